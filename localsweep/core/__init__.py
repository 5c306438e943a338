"""The engine's plain values: a trial and its states (``trial``), a sweep's best trials on several objectives
(``pareto``), and the reader of a wandb run's record (``runlog``). Imports nothing else of localsweep."""
