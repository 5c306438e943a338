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


def halving(seed: int | None) -> optuna.Study:
    """Successive halving from the first step, keeping the better half at each rung, in a study of its own."""
    return optuna.create_study(pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2))


def nsga2(seed: int | None) -> optuna.samplers.BaseSampler:
    """A sampler that keeps its generations in the study (refused)."""
    return optuna.samplers.NSGAIISampler(seed=seed)


def returns_config(trial: optuna.Trial) -> dict[str, float]:
    """Breaks the contract: a search space returns nothing, its suggestions are the config."""
    return {"x": trial.suggest_float("x", 0.0, 1.0)}


def raises(trial: optuna.Trial) -> None:
    """A search space with a bug."""
    trial.suggest_float("x", 0.0, 1.0 / 0)


def seeded_halving(seed: int | None) -> optuna.pruners.BasePruner:
    """Successive halving from the first step (the better half at each rung), with the sweep's seeded TPE."""
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=2)
