"""What the trainer, the offline engine and the report agree on, owned by none of them: the predictions table
(``predictions``), a sweep's objectives with their goals (``objectives``), and what a rerun of a recorded run
compares (``reproduce``), does around the run (``rerun``) and checks out for ``--at-commit`` (``checkout``).
Standard library only: the trainer (run by ``wandb agent`` with no engine installed), the engine and the analysis
all import it, and it imports nothing of theirs."""
