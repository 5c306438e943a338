"""The sweep's decisions: next parameters, whom to stop early, imputation.

W&B's engine (``sweeps``) decides grid, random and bayes search and hyperband; Optuna decides ``method: custom``
(``localsweep.search.custom``). On top of both: ``resume --retry-crashed`` (crashed trials' parameters run again first),
``--distinct`` (``localsweep.search.distinct``) and ``--prior-sweep`` (``localsweep.search.prior``). Pure functions over
stored trials; the controller applies their answers.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from contract.objectives import primary
from localsweep.core.trial import CRASHED, FINISHED, PENDING, RUNNING, STOPPED, Trial
from localsweep.search import distinct, prior
from localsweep.search.custom import study as custom
from localsweep.search.custom.source import Source
from localsweep.search.wandb_engine import bayes_search, next_runs, plain, schema, seeded, sweeps
from localsweep.storage.view import SweepView

_STATES = {
    PENDING: sweeps.RunState.pending,  # suggested, not yet started: a grid must not suggest its point again
    RUNNING: sweeps.RunState.running,
    FINISHED: sweeps.RunState.finished,
    # A hyperband-stopped trial's metrics are real measurements: W&B's search should learn from them.
    STOPPED: sweeps.RunState.finished,
    CRASHED: sweeps.RunState.crashed,
}
ATTEMPTS = 8
"""With ``--distinct``: how many proposals the search gets before a point not yet run is taken at random. Each is a
whole proposal (bayes refits its model), so a few; for random search the fallback draw is the same distribution
(every point of an enumerable space is equally likely under W&B's random search)."""


@dataclass(frozen=True)
class SearchOptions:
    """What the search needs beyond the config and the trials, all kept in the sweep's settings.

    ``seed``: reproducible suggestions (``--seed``). ``distinct``: never repeat a configuration (``--distinct``).
    ``prior``: the trials of earlier sweeps (``--prior-sweep``). ``source``: the text of ``scheduler.source``.
    """

    seed: int | None = None
    distinct: bool = False
    prior: tuple[Trial, ...] = ()
    source: Source | None = None

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> SearchOptions:
        """The options a sweep was created with (``SweepView.settings``)."""
        source = settings.get("scheduler_source")
        return cls(
            seed=settings.get("seed"),
            distinct=bool(settings.get("distinct")),
            prior=prior.trials(settings.get("prior_trials") or []),
            source=None if source is None else Source(**source),
        )


def new_settings(
    config: dict[str, Any],
    *,
    seed: int | None,
    distinct: bool,
    prior_sweeps: Sequence[str],
    open_sweep: Callable[[str], SweepView],
    workdir: Path,
) -> tuple[dict[str, Any], list[str]]:
    """The search settings a new sweep keeps (for :meth:`SearchOptions.from_settings`), and what to tell the user
    about its prior sweeps (``open_sweep`` opens one by name). The custom source's text and the prior trials are
    copied in, so that the sweep never needs those files again (nor any other host).

    Raises
    ------
    FileNotFoundError
        When a prior sweep does not exist.
    """
    source = Source.read(config.get("scheduler") or {}, workdir) if is_custom(config) else None
    records, notes = prior.snapshot(config, source, [open_sweep(name) for name in prior_sweeps])
    settings = {
        "seed": seed,
        "distinct": distinct,
        "prior_sweeps": list(prior_sweeps),
        "prior_trials": records,
        "scheduler_source": None if source is None else dataclasses.asdict(source),
    }
    return settings, notes


def as_sweep_run(trial: Trial, history: list[dict[str, Any]] | None = None) -> Any:
    """The trial as W&B's engine sees a run; ``history`` overrides the stored one (a live trial's log)."""
    return sweeps.SweepRun(
        name=trial.run_id,
        state=_STATES[trial.state],
        config=trial.params,
        summaryMetrics=trial.summary,
        history=trial.history if history is None else history,
        stopped=trial.state == STOPPED,
    )


def searched(trials: Sequence[Trial]) -> list[Trial]:
    """The trials the search must know about: all but the interrupted (requeued) and the retried ones, whose
    points run again."""
    return [t for t in trials if t.counts]


def is_custom(config: dict[str, Any]) -> bool:
    """True for ``method: custom`` (Optuna decides; validation refuses any other engine for it)."""
    return config.get("method") == "custom"


def stops_early(config: dict[str, Any]) -> bool:
    """Whether running trials may be stopped early: W&B's hyperband, or a custom sweep (its pruner, if any)."""
    return "early_terminate" in config or is_custom(config)


def _seed(seed: int | None, trials: int, attempt: int) -> int | None:
    """The seed of one proposal: ``SeedSequence([seed, trials])`` (then ``[seed, trials, attempt]`` for the
    ``--distinct`` retries), so the n-th suggestion of a sweep is reproducible and nearby seeds give independent
    sweeps (with ``seed + n``, seed 1 would replay seed 0's draws shifted by one trial)."""
    if seed is None:
        return None
    entropy = [seed, trials] if attempt == 0 else [seed, trials, attempt]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def suggest(
    config: dict[str, Any], trials: Sequence[Trial], options: SearchOptions | None = None
) -> dict[str, Any] | None:
    """The next parameters in W&B's form (``{"lr": {"value": 0.01}}``), or None when the space is exhausted
    (a grid, or a ``--distinct`` space, has run every point).

    First come the parameters of crashed trials that ``resume --retry-crashed`` marked, once each. Otherwise the
    method proposes: W&B's engine with numpy's and Python's global generators seeded for that one call (bayes and
    random draw from them), or Optuna with a seeded sampler. With ``distinct``, a proposal already run is drawn again
    with the next seed, up to :data:`ATTEMPTS` times, then a point not yet run is taken at random.
    """
    options = options or SearchOptions()
    again = retry(trials)
    if again is not None:
        return again
    known = [*options.prior, *searched(trials)]
    if not options.distinct or config.get("method") == "grid":
        return _propose(config, known, options, len(trials), lambda params: True, attempts=1)
    names = list(config.get("parameters") or {})
    done = distinct.seen(known, names)
    left = distinct.remaining(config, done)
    if not left:
        return None
    proposed = _propose(config, known, options, len(trials), lambda p: distinct.key(p) not in done, ATTEMPTS)
    if proposed is not None:
        return proposed
    return left[np.random.default_rng(_seed(options.seed, len(trials), ATTEMPTS)).integers(len(left))]


def _propose(
    config: dict[str, Any],
    known: Sequence[Trial],
    options: SearchOptions,
    count: int,
    accept: Callable[[dict[str, Any]], bool],
    attempts: int,
) -> dict[str, Any] | None:
    if is_custom(config):
        return custom.next_params(config, known, options.source, _seed(options.seed, count, 0), accept, attempts)
    # W&B's random search draws without looking at earlier runs (sweeps.run.next_runs passes it none): not
    # converting thousands of trials to SweepRuns for it keeps a suggestion's cost flat in the sweep's size.
    runs = [] if config.get("method") == "random" else [as_sweep_run(t) for t in known]
    for attempt in range(attempts):
        with seeded(_seed(options.seed, count, attempt)):
            (run,) = next_runs(config, runs)
        if run is None:
            return None  # a grid with every point run
        params: dict[str, Any] = plain(run.config)
        if accept(params):
            return params
    return None


def retry(trials: Sequence[Trial]) -> dict[str, Any] | None:
    """The parameters of the first retried trial that no later trial has run again (None when none is left)."""
    for trial in trials:
        if trial.retried and not any(
            later.number > trial.number and later.counts and later.params == trial.params for later in trials
        ):
            return trial.params
    return None


def space_size(config: dict[str, Any], options: SearchOptions | None = None) -> int | None:
    """How many points a grid, or a ``--distinct`` space, has left besides the prior sweeps' (None for other
    searches, or a space too large to enumerate)."""
    options = options or SearchOptions()
    if config.get("method") != "grid" and not options.distinct:
        return None
    points = distinct.points(config)
    if len(points) > distinct.MAX_POINTS:
        return None
    done = distinct.seen(options.prior, list(config.get("parameters") or {}))
    return sum(k not in done for k in points)


def exhausted(config: dict[str, Any]) -> str:
    """Why :func:`suggest` returned None for ``config``: every grid point, or every configuration, has run."""
    if config.get("method") == "grid":
        return "grid exhausted: every point has run"
    return "space exhausted (--distinct): every configuration has run"


def runs_to_stop(
    config: dict[str, Any],
    live: dict[str, list[dict[str, Any]]],
    trials: Sequence[Trial],
    options: SearchOptions | None = None,
) -> list[str]:
    """Run ids of running trials to stop now: hyperband's (``sweeps.stop_runs``) or the custom sweep's pruner's.

    ``live`` maps the run id of each running trial to the history read from its log so far.
    """
    options = options or SearchOptions()
    known = [*options.prior, *searched(trials)]
    if is_custom(config):
        return custom.to_prune(config, live, known, options.source)
    if "early_terminate" not in config:
        return []
    runs = [as_sweep_run(t, live.get(t.run_id)) for t in known]
    return [run.name for run in sweeps.stop_runs(config, runs) if run.name in live]


def metric_value(config: dict[str, Any], summary: dict[str, Any], history: list[dict[str, Any]]) -> float | None:
    """A trial's sweep metric (the primary objective): its summary value, else its best logged value (W&B's
    extremum), else None."""
    objective = primary(config)
    return None if objective is None else objective.value(summary, history)


def imputed_metric(config: dict[str, Any], crashed: Trial, trials: Sequence[Trial]) -> float | None:
    """The metric W&B's bayes search assigns a crashed run under ``metric.impute`` (worst, best or latest)."""
    if not config.get("metric"):
        return None
    metric = schema.fill_validate_metric(copy.deepcopy(config))["metric"]
    bayes = bayes_search()
    strategy = bayes.ImputeStrategy(metric["impute"])
    runs = [as_sweep_run(t) for t in searched(trials)]
    value = bayes.impute(metric["goal"], metric["name"], strategy, run=as_sweep_run(crashed), runs=runs)
    return float(value) if math.isfinite(value) else None
