"""``scheduler.source`` for the custom-sweep tests: a define-by-run space and optimizers (samplers, pruners)."""

import optuna


def shaped(trial: optuna.Trial) -> None:
    """A conditional space: ``k`` exists only for the ``steep`` shape (the YAML's ``x`` is suggested first)."""
    if trial.suggest_categorical("shape", ["flat", "steep"]) == "steep":
        trial.suggest_int("k", 0, 3)


def median(seed: int | None) -> optuna.pruners.BasePruner:
    """Prune a trial whose score is below the median of the finished trials' at the same step, after two."""
    return optuna.pruners.MedianPruner(n_startup_trials=2)


def random_sampler(seed: int | None) -> optuna.samplers.BaseSampler:
    """Plain random search, seeded per suggestion."""
    return optuna.samplers.RandomSampler(seed=seed)
