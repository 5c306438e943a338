"""The engine's plain values: a trial and its states (``trial``), and the reader of a wandb run's record
(``runlog``). Imports nothing else of localsweep."""
