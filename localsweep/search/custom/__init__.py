"""``method: custom`` with ``scheduler.engine: optuna``: W&B's sweep YAML searched by Optuna.

W&B's schema (sweeps 0.3.0) accepts this method, but neither the ``sweeps`` package nor wandb runs it. Here:
``space`` translates the YAML's ``parameters`` into Optuna distributions, ``source`` loads the user's own
``search_space``/``optimizer`` functions, ``study`` rebuilds an Optuna study from the sweep's stored trials before
every suggestion and every pruning check (the store is the only state).
"""
