"""What to try next: W&B's engine (``wandb_engine``, the ``sweeps`` package, imported once), suggestions and
early-termination decisions (``suggest``), ``--distinct``, prior trials, Pareto fronts, YAML validation, and
``method: custom`` with Optuna (``custom/``). May import ``core`` and ``storage``."""
