"""``--prior-sweep NAME``: warm start from the finished trials of earlier sweeps, like W&B's prior runs.

When the sweep is created, the finished and stopped trials of each named sweep that fit the new sweep (every
searched parameter present with a value its distribution admits, every constant equal, and a value for every
objective) are copied into the new sweep's settings: their parameters, objective values and per-step objective
history. The search then sees
them before its own trials (bayes and Optuna model them from the first suggestion; a grid skips their points; the
early-termination rules compare against them), and they never count toward ``run_cap`` or ``--count``. Copying
keeps the sweep self-contained: ``resume``, or a controller on another host, needs no access to the earlier
sweep's folder.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import optuna

from contract.objectives import objectives
from localsweep.core import pareto
from localsweep.core.trial import FINISHED, STOPPED, Trial, TrialState
from localsweep.search.custom.source import Source
from localsweep.search.custom.space import translate
from localsweep.search.custom.study import Engine
from localsweep.storage.view import SweepView

_ABSENT = object()


def snapshot(
    config: dict[str, Any], source: Source | None, stores: Iterable[SweepView]
) -> tuple[list[dict[str, Any]], list[str]]:
    """The trials of the earlier sweeps in ``stores`` that fit ``config``, as records for the settings, and one
    line per sweep saying how many fitted and why the others did not."""
    records: list[dict[str, Any]] = []
    notes = []
    for store in stores:
        done = [t for t in store.trials() if t.state in (FINISHED, STOPPED) and t.counts]
        unfit: dict[str, int] = {}
        for trial in done:
            why = misfit(config, source, trial)
            if why is None:
                records.append(_record(config, store.name, trial))
            else:
                unfit[why] = unfit.get(why, 0) + 1
        left_out = "".join(f"; {count} left out: {why}" for why, count in unfit.items())
        notes.append(f"--prior-sweep {store.name}: {len(done) - sum(unfit.values())} of {len(done)} trials{left_out}")
    return records, notes


def misfit(config: dict[str, Any], source: Source | None, trial: Trial) -> str | None:
    """Why ``trial`` cannot inform a sweep of ``config`` (None when it can)."""
    missing = [o.name for o, v in zip(objectives(config), pareto.values(config, trial), strict=True) if v is None]
    if missing:
        return f"no value for {', '.join(missing)}"
    space, _ = translate(config.get("parameters") or {})
    found = space.values(trial.config)
    absent = sorted(set(space.distributions) - set(found))
    if absent:
        return f"no parameter {', '.join(absent)}"
    other = [f"{n}={found.get(n)!r}" for n, value in space.constants.items() if found.get(n, _ABSENT) != value]
    if other:
        return f"another constant ({', '.join(other)}): a different experiment"
    distributions = space.distributions
    if config.get("method") == "custom":
        try:
            distributions = Engine.load(config, source).distributions(trial.config)
        except (ValueError, KeyError) as err:  # FixedTrial: a define-by-run parameter it does not have
            return f"the define-by-run space does not fit it ({err})"
    values = {**trial.config, **space.values(trial.config)}
    try:
        optuna.trial.create_trial(params={n: values[n] for n in distributions}, distributions=distributions, value=0.0)
    except ValueError as err:
        return f"a value outside this sweep's space ({err})"
    return None


def _record(config: dict[str, Any], sweep: str, trial: Trial) -> dict[str, Any]:
    names = [o.name for o in objectives(config)]
    values = pareto.values(config, trial)
    history = [{n: row[n] for n in names if n in row} for row in trial.history]
    return {
        "sweep": sweep,
        "run_id": trial.run_id,
        "state": str(trial.state),
        "params": trial.params,
        "summary": dict(zip(names, values, strict=True)),
        "history": [row for row in history if row],
    }


def trials(records: list[dict[str, Any]]) -> tuple[Trial, ...]:
    """The recorded prior trials as :class:`Trial` objects, numbered -n..-1 (before this sweep's first, 1)."""
    return tuple(
        Trial(
            number=i - len(records),
            run_id=r["run_id"],
            state=TrialState(r["state"]),
            params=r["params"],
            started_at=0.0,
            ended_at=0.0,
            exit_code=0,
            error=None,
            run_dir=None,
            history=r["history"],
            summary=r["summary"],
            artifacts=[],
            metric_value=next(iter(r["summary"].values()), None),
            metric_imputed=False,
            requeued=False,
            pid=None,
        )
        for i, r in enumerate(records)
    )
