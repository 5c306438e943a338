"""Optuna decides ``method: custom``: a study rebuilt from the sweep's trials before every decision.

The store is the only state (a resumed sweep, or a controller on another host, continues from it). Before each
suggestion and each pruning check, every trial the search knows (prior sweeps' first, then this sweep's, in start
order, so each keeps its Optuna trial number) is replayed into a fresh in-memory study through ``enqueue_trial`` +
``ask``: its parameters with their distributions (the YAML's ``parameters``; for a define-by-run space, those
``search_space`` suggests when called with an ``optuna.trial.FixedTrial`` of the trial's config), its metric per
step as ``report(value, step)``, then its ending: finished → COMPLETE with its objective value(s), stopped →
PRUNED, crashed (or finished without every objective) → FAIL, pending or running → left RUNNING.

- Suggesting: the replayed trials are added to a study with the sweep's sampler, which is asked once.
- Pruning (one objective only: Optuna's ``Trial.report`` refuses multi-objective studies): the replay study has
  the sweep's pruner and, unless the pruner is one that keeps nothing in the study (median, percentile,
  threshold, Wilcoxon), asks it after every step of every ended trial, as an objective reporting each epoch would
  (successive halving and hyperband record their rungs then); then each running trial is judged at its latest
  step from the live history, which is what ``trial.should_prune()`` after that step's ``report`` would answer.

Samplers that keep their state in trial or study system attributes (NSGA-II/III, CMA-ES, QMC, grid) would restart
from scratch in every rebuilt study, so they are refused. The default sampler is TPE for one objective and for
several (Optuna's TPE is multi-objective): it learns only from the trials' parameters and values.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.pruners import BasePruner, NopPruner
from optuna.samplers import BaseSampler, RandomSampler, TPESampler
from optuna.trial import TrialState

from contract.objectives import Objective, objectives
from localsweep.core.trial import CRASHED, PENDING, RUNNING, STOPPED, Trial
from localsweep.search import measure
from localsweep.search.custom.source import SchedulerError, Source
from localsweep.search.custom.space import Space, translate

STUDY_NAME = "localsweep"
"""Every rebuilt study's name: HyperbandPruner puts a trial in a bracket by hashing the study name with the trial's
number, so a fixed name (and trials numbered in start order) keeps each trial in its bracket across rebuilds."""
_STATEFUL_SAMPLERS = (
    optuna.samplers.NSGAIISampler,
    optuna.samplers.NSGAIIISampler,
    optuna.samplers.CmaEsSampler,
    optuna.samplers.QMCSampler,
    optuna.samplers.GridSampler,
)

_STATELESS_PRUNERS = (
    optuna.pruners.NopPruner,
    optuna.pruners.PercentilePruner,  # MedianPruner is one
    optuna.pruners.ThresholdPruner,
    optuna.pruners.WilcoxonPruner,
)
"""Pruners whose verdicts depend only on the trials' reported values (no rungs kept in the study), so the ended
trials need not be judged again when the study is rebuilt."""

optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial on stderr otherwise


@dataclass(frozen=True)
class Engine:
    """A custom sweep's Optuna side: its space, objectives and the user's functions (from the stored source)."""

    scheduler: dict[str, Any]
    space: Space
    objectives: list[Objective]
    source: Source | None

    @classmethod
    def load(cls, config: dict[str, Any], source: Source | None) -> Engine:
        """The engine of a validated custom sweep (cached: the config and source do not change during a sweep)."""
        return _load(json.dumps(config, sort_keys=True, default=str), source)

    def function(self, key: str) -> Callable[..., Any] | None:
        """The user's ``search_space`` or ``optimizer`` function, None when the YAML names none."""
        return None if self.source is None else self.source.function(key, self.scheduler)

    def parts(self, seed: int | None) -> tuple[BaseSampler, BasePruner]:
        """The sampler and pruner for one decision: the user's ``optimizer(seed)`` or the defaults (TPE, none).

        Raises
        ------
        SchedulerError
            When ``optimizer`` returns something else than a Study, sampler or pruner, or a stateful sampler.
        """
        optimizer = self.function("optimizer")
        built = None if optimizer is None else optimizer(seed)
        if isinstance(built, optuna.Study):
            sampler, pruner = built.sampler, built.pruner
        elif isinstance(built, BaseSampler):
            sampler, pruner = built, NopPruner()
        elif isinstance(built, BasePruner | None):
            sampler, pruner = TPESampler(seed=seed), built or NopPruner()
        else:
            raise SchedulerError(
                f"{self.scheduler['optimizer']}() must return an optuna.Study, an optuna.samplers sampler or an "
                f"optuna.pruners pruner, but returned {type(built).__name__}"
            )
        if isinstance(sampler, _STATEFUL_SAMPLERS):
            raise SchedulerError(
                f"{self.scheduler['optimizer']}() returned a {type(sampler).__name__}, which keeps its state in the "
                "study's system attributes; localsweep rebuilds the study from the sweep's store before every "
                "suggestion, so that state would be lost: use TPESampler, GPSampler, RandomSampler or "
                "BruteForceSampler"
            )
        return sampler, pruner

    def distributions(self, config: dict[str, Any]) -> dict[str, BaseDistribution]:
        """The distributions a trial with this (nested, plain) config was drawn from: the YAML's, then those the
        define-by-run function suggests for it."""
        static = {n: d for n, d in self.space.distributions.items() if n in self.space.values(config)}
        search_space = self.function("search_space")
        if search_space is None:
            return static
        fixed = optuna.trial.FixedTrial({**config, **self.space.values(config)})
        for name, distribution in static.items():
            suggest_from(fixed, name, distribution)
        search_space(fixed)
        return {**static, **fixed.distributions}

    def params(self, trial: optuna.Trial | optuna.trial.FixedTrial) -> dict[str, Any]:
        """A suggested trial's config in W&B's form (``{"lr": {"value": 0.01}}``), the constants included."""
        return {key: {"value": value} for key, value in self.space.config(trial.params).items()}

    def ask(self, study: optuna.Study) -> dict[str, Any]:
        """Ask ``study`` for a trial: the YAML's parameters first, then the define-by-run function's."""
        trial = study.ask(self.space.distributions)
        search_space = self.function("search_space")
        if search_space is not None:
            returned = search_space(trial)
            if returned is not None:
                raise SchedulerError(
                    f"{self.scheduler['search_space']}() must only call trial.suggest_* and return None (each "
                    f"suggestion is a config key), but returned {type(returned).__name__}"
                )
        return self.params(trial)


@functools.lru_cache(maxsize=8)
def _load(config_json: str, source: Source | None) -> Engine:
    config = json.loads(config_json)
    space, _ = translate(config.get("parameters") or {})
    return Engine(config["scheduler"], space, objectives(config), source)


def suggest_from(trial: optuna.Trial | optuna.trial.FixedTrial, name: str, distribution: BaseDistribution) -> Any:
    """Have ``trial`` suggest ``name`` from ``distribution`` through its public ``suggest_*`` methods."""
    match distribution:
        case CategoricalDistribution(choices=choices):
            return trial.suggest_categorical(name, list(choices))
        case IntDistribution(low=low, high=high, step=step, log=log):
            return trial.suggest_int(name, low, high, step=step, log=log)
        case FloatDistribution(low=low, high=high, step=step, log=log):
            return trial.suggest_float(name, low, high, step=step, log=log)
    raise TypeError(f"no suggest_* method for {type(distribution).__name__}")


def _study(engine: Engine, sampler: BaseSampler, pruner: BasePruner) -> optuna.Study:
    return optuna.create_study(
        study_name=STUDY_NAME, directions=[o.goal for o in engine.objectives], sampler=sampler, pruner=pruner
    )


def replay(
    engine: Engine, known: Sequence[Trial], live: dict[str, list[dict[str, Any]]], pruner: BasePruner
) -> tuple[optuna.Study, dict[str, optuna.Trial]]:
    """A study holding ``known`` (start order), and the Optuna trial of each pending or running one (left RUNNING).

    ``live`` maps running trials' run ids to the history they have logged so far (it wins over the stored one).
    """
    study = _study(engine, RandomSampler(), pruner)  # the sampler is never asked: every trial is enqueued
    single = len(engine.objectives) == 1
    judge = single and not isinstance(pruner, _STATELESS_PRUNERS)
    running: dict[str, optuna.Trial] = {}
    for known_trial in known:
        config = known_trial.config
        distributions = engine.distributions(config)
        values = {**config, **engine.space.values(config)}
        study.enqueue_trial({name: values[name] for name in distributions})
        trial = study.ask(distributions)
        history = live.get(known_trial.run_id, known_trial.history)
        for step, value in enumerate(measure.steps(engine.objectives[0].name, history) if single else [], 1):
            trial.report(value, step)
            if judge and known_trial.state not in (PENDING, RUNNING):
                trial.should_prune()  # recorded for its side effects on the study (e.g. successive halving rungs)
        if known_trial.state in (PENDING, RUNNING):
            running[known_trial.run_id] = trial
        else:
            _tell(study, trial, known_trial, engine.objectives)
    return study, running


def _tell(study: optuna.Study, trial: optuna.Trial, known: Trial, goals: list[Objective]) -> None:
    if known.state == CRASHED:
        study.tell(trial, state=TrialState.FAIL)
    elif known.state == STOPPED and len(goals) == 1:
        study.tell(trial, state=TrialState.PRUNED)  # Optuna ranks a pruned trial by its last reported value
    else:
        values = [measure.value(o, known.summary, known.history) for o in goals]
        if any(v is None for v in values):
            study.tell(trial, state=TrialState.FAIL)
        else:
            study.tell(trial, [v for v in values if v is not None])


def next_params(
    config: dict[str, Any],
    known: Sequence[Trial],
    source: Source | None,
    seed: int | None,
    accept: Callable[[dict[str, Any]], bool],
    attempts: int,
) -> dict[str, Any] | None:
    """The sampler's next parameters in W&B's form, the first of up to ``attempts`` suggestions that ``accept``
    takes (None when it takes none). Each refused suggestion stays RUNNING in the study, which TPE's constant liar
    (on by default) treats as a bad result, steering the next one away from it."""
    engine = Engine.load(config, source)
    sampler, _ = engine.parts(seed)
    replayed, _ = replay(engine, known, {}, NopPruner())
    study = _study(engine, sampler, NopPruner())
    study.add_trials(replayed.trials)
    for _ in range(attempts):
        params = engine.ask(study)
        if accept(params):
            return params
    return None


def to_prune(
    config: dict[str, Any], live: dict[str, list[dict[str, Any]]], known: Sequence[Trial], source: Source | None
) -> list[str]:
    """Run ids of the running trials (``live``: their history so far) that the sweep's pruner prunes now."""
    engine = Engine.load(config, source)
    _, pruner = engine.parts(seed=None)
    if len(engine.objectives) != 1 or isinstance(pruner, NopPruner):
        return []
    _, running = replay(engine, known, live, pruner)
    return [run_id for run_id, trial in running.items() if run_id in live and trial.should_prune()]
