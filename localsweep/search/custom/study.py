"""Optuna decides ``method: custom``: one study kept across the sweep's decisions, told only what changed.

The store is the only durable state; the study is a cache of it. Every trial the search knows (prior sweeps' first,
then this sweep's, in start order, so each keeps its Optuna trial number) enters the study through
``enqueue_trial`` + ``ask``: its parameters with their distributions (the YAML's ``parameters``; for a define-by-run
space, those ``search_space`` suggests when called with an ``optuna.trial.FixedTrial`` of the trial's config), its
metric per step as ``report(value, step)`` as the steps arrive, then its ending once: finished → COMPLETE with its
objective value(s), stopped → PRUNED, crashed (or finished without every objective) → FAIL; pending or running
trials stay RUNNING. Before each decision only the trials that changed are told (the agent's trial cache hands
over the same objects for unchanged trials); a trial that left the search (interrupted, retried), or a process
that never held the study (``resume``, a controller taking over on another host), rebuilds it from the store.

- Suggesting: the study, with the sweep's sampler for this decision, is asked; the suggestion becomes the next
  pending trial, which the study then already holds.
- Pruning (one objective only: Optuna's ``Trial.report`` refuses multi-objective studies): each new step of a
  trial is reported, and — unless the pruner keeps nothing in the study (median, percentile, threshold,
  Wilcoxon) — judged right away, as an objective reporting each epoch would (successive halving and hyperband
  record their rungs then); each running trial's verdict is the pruner's at its latest step. A study rebuilt
  after a takeover judges the steps in start order, so rung values recorded while trials ran side by side may
  differ slightly from the study it replaces.

Samplers that keep their state in trial or study system attributes (NSGA-II/III, CMA-ES, QMC, grid) would restart
from scratch in a rebuilt study, so they are refused. The default sampler is TPE for one objective and for
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

_REPLAYED = RandomSampler()
"""The sampler of a kept study between suggestions: known trials are enqueued with their parameters, so it only
ever hands those back."""

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

    def ask(self, study: optuna.Study) -> tuple[optuna.Trial, dict[str, Any]]:
        """Ask ``study`` for a trial: the YAML's parameters first, then the define-by-run function's; the trial and
        its config in W&B's form."""
        trial = study.ask(self.space.distributions)
        search_space = self.function("search_space")
        if search_space is not None:
            returned = search_space(trial)
            if returned is not None:
                raise SchedulerError(
                    f"{self.scheduler['search_space']}() must only call trial.suggest_* and return None (each "
                    f"suggestion is a config key), but returned {type(returned).__name__}"
                )
        return trial, self.params(trial)


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


class KeptStudy:
    """The study of one custom sweep, kept across decisions; :meth:`sync` tells it what changed in ``known``."""

    def __init__(self, engine: Engine, pruner: BasePruner) -> None:
        self.engine = engine
        self.study = _study(engine, _REPLAYED, pruner)  # the sampler is set for each suggestion
        self.stale = False  # it holds refused suggestions: the next decision rebuilds it
        self._single = len(engine.objectives) == 1
        self._judge = self._single and not isinstance(pruner, _STATELESS_PRUNERS)
        self._known: list[Trial] = []  # in study order, the objects last seen
        self._trials: list[optuna.Trial] = []
        self._reported: list[int] = []  # steps reported of each
        self._pruned: dict[str, bool] = {}  # a running trial's verdict at its latest judged step
        self._asked: tuple[optuna.Trial, dict[str, Any]] | None = None  # the suggestion not yet a known trial

    def sync(self, known: Sequence[Trial], live: dict[str, list[dict[str, Any]]]) -> bool:
        """Tell the study what changed in ``known`` (start order; ``live``: running trials' history so far, which
        wins over the stored one); False when the study cannot follow (a trial left, or an ended one changed)."""
        if len(known) < len(self._known):
            return False
        for index, trial in enumerate(known):
            if index < len(self._known):
                old = self._known[index]
                if old is trial and trial.run_id not in live:
                    continue
                if old.run_id != trial.run_id or old.params != trial.params:
                    return False
                if old.state not in (PENDING, RUNNING):
                    if old != trial:
                        return False
                    self._known[index] = trial
                    continue
                self._known[index] = trial
            elif self._asked is not None:
                if trial.params != self._asked[1]:
                    return False  # the suggestion never became this trial: it would stay RUNNING in the study
                self._add(trial, self._asked[0])
            else:
                self._add(trial, self._enqueue(trial))
            self._advance(index, trial, live.get(trial.run_id))
        return self._asked is None  # a suggestion no trial took would stay RUNNING in the study

    def _enqueue(self, trial: Trial) -> optuna.Trial:
        config = trial.config
        distributions = self.engine.distributions(config)
        values = {**config, **self.engine.space.values(config)}
        self.study.enqueue_trial({name: values[name] for name in distributions})
        return self.study.ask(distributions)

    def _add(self, trial: Trial, optuna_trial: optuna.Trial) -> None:
        self._asked = None
        self._known.append(trial)
        self._trials.append(optuna_trial)
        self._reported.append(0)

    def _advance(self, index: int, trial: Trial, live: list[dict[str, Any]] | None) -> None:
        optuna_trial = self._trials[index]
        if self._single:
            steps = measure.steps(self.engine.objectives[0].name, trial.history if live is None else live)
            for step, value in enumerate(steps[self._reported[index] :], self._reported[index] + 1):
                optuna_trial.report(value, step)
                if self._judge:
                    self._pruned[trial.run_id] = optuna_trial.should_prune()
            self._reported[index] = max(self._reported[index], len(steps))
        if trial.state not in (PENDING, RUNNING):
            _tell(self.study, optuna_trial, trial, self.engine.objectives)
            self._pruned.pop(trial.run_id, None)

    def running(self) -> dict[str, optuna.Trial]:
        """The Optuna trial of each pending or running trial, by run id."""
        return {t.run_id: o for t, o in zip(self._known, self._trials, strict=True) if t.state in (PENDING, RUNNING)}

    def pruned(self, run_id: str, trial: optuna.Trial) -> bool:
        """The pruner's verdict on a running trial at its latest reported step."""
        if not self._judge:
            return trial.should_prune()  # a pruner that keeps nothing in the study: judged now, at the latest step
        return self._pruned.get(run_id, False)

    def ask(
        self, sampler: BaseSampler, accept: Callable[[dict[str, Any]], bool], attempts: int
    ) -> dict[str, Any] | None:
        """The sampler's next parameters (the first of up to ``attempts`` that ``accept`` takes), or None. Each
        refused suggestion stays RUNNING while the others are drawn, which TPE's constant liar (on by default)
        treats as a bad result, steering the next one away from it; the study is then :attr:`stale`."""
        self.study.sampler = sampler
        try:
            for _ in range(attempts):
                trial, params = self.engine.ask(self.study)
                if accept(params):
                    self._asked = (trial, params)
                    return params
                self.stale = True
            return None
        finally:
            self.study.sampler = _REPLAYED  # known trials enter with their own parameters: nothing to sample


def replay(
    engine: Engine, known: Sequence[Trial], live: dict[str, list[dict[str, Any]]], pruner: BasePruner
) -> tuple[optuna.Study, dict[str, optuna.Trial]]:
    """A study built from scratch holding ``known`` (start order), and the Optuna trial of each pending or running
    one (left RUNNING). ``live`` maps running trials' run ids to the history logged so far (it wins over the stored
    one)."""
    kept = KeptStudy(engine, pruner)
    kept.sync(known, live)
    return kept.study, kept.running()


def _tell(study: optuna.Study, trial: optuna.Trial, known: Trial, goals: list[Objective]) -> None:
    if known.state == CRASHED:
        study.tell(trial, state=TrialState.FAIL)
    elif known.state == STOPPED and len(goals) == 1:
        study.tell(trial, state=TrialState.PRUNED)  # Optuna ranks a pruned trial by its last reported value
    else:
        values = [o.value(known.summary, known.history) for o in goals]
        if any(v is None for v in values):
            study.tell(trial, state=TrialState.FAIL)
        else:
            study.tell(trial, [v for v in values if v is not None])


_kept: list[KeptStudy] = []
"""The kept study of the custom sweep this process decides for (a controller decides for one sweep)."""


def kept_study(engine: Engine, known: Sequence[Trial], live: dict[str, list[dict[str, Any]]]) -> KeptStudy:
    """The sweep's kept study told what changed in ``known``, or a new one built from it when there is none, it is
    another sweep's, or it cannot follow."""
    kept = _kept[0] if _kept else None
    if kept is None or kept.engine is not engine or kept.stale or not kept.sync(known, live):
        _, pruner = engine.parts(seed=None)
        kept = KeptStudy(engine, pruner)
        kept.sync(known, live)
        _kept[:] = [kept]
    return kept


def next_params(
    config: dict[str, Any],
    known: Sequence[Trial],
    source: Source | None,
    seed: int | None,
    accept: Callable[[dict[str, Any]], bool],
    attempts: int,
) -> dict[str, Any] | None:
    """The sampler's next parameters in W&B's form, the first of up to ``attempts`` suggestions that ``accept``
    takes (None when it takes none)."""
    engine = Engine.load(config, source)
    sampler, _ = engine.parts(seed)
    return kept_study(engine, known, {}).ask(sampler, accept, attempts)


def to_prune(
    config: dict[str, Any], live: dict[str, list[dict[str, Any]]], known: Sequence[Trial], source: Source | None
) -> list[str]:
    """Run ids of the running trials (``live``: their history so far) that the sweep's pruner prunes now."""
    engine = Engine.load(config, source)
    _, pruner = engine.parts(seed=None)
    if len(engine.objectives) != 1 or isinstance(pruner, NopPruner):
        return []
    kept = kept_study(engine, known, live)
    return [run_id for run_id, trial in kept.running().items() if run_id in live and kept.pruned(run_id, trial)]
