"""What the trainer, the offline engine and the report agree on, owned by none of them: the predictions table
(``predictions``) and a sweep's objectives with their goals (``objectives``). Standard library only: the trainer
(run by ``wandb agent`` with no engine installed), the engine and the analysis all import it, and it imports
nothing of theirs."""
