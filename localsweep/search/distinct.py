"""``--distinct``: where the space is discrete, no configuration runs twice, and the sweep ends when all have run.

An opt-in run option kept in the sweep's settings, not a YAML key: sweeps 0.3.0's schema allows no keys but its own
(``additionalProperties: false`` at the top level and in ``scheduler``), so ``wandb sweep``, and ``localsweep sync``
which makes a W&B sweep of the stored YAML, would reject a YAML carrying one.

The space is enumerated by W&B's own grid engine (``sweeps.next_runs``), so every searched parameter must be one a
grid enumerates exactly as the other methods sample it: ``value``, ``values`` or ``int_uniform`` (``q_uniform`` is
refused: W&B's grid leaves out ``max``, which random search can draw). The search then proposes as usual and a
proposal that has already run (in this sweep or a ``--prior-sweep``) is drawn again; for random search that is
sampling without replacement (W&B's distribution restricted to the points not yet run). See
:func:`localsweep.search.suggest.suggest` for the retries and the fallback.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import Any

from localsweep.core.trial import Trial
from localsweep.search.wandb_engine import next_runs, params, plain

MAX_POINTS = 100_000
"""Spaces larger than this are not enumerated (``--distinct`` is refused for them)."""
_ENUMERABLE = {params.HyperParameter.CONSTANT, params.HyperParameter.CATEGORICAL, params.HyperParameter.INT_UNIFORM}


def violations(config: dict[str, Any]) -> list[str]:
    """Why ``--distinct`` cannot apply to ``config`` (empty when it can), each with its key path."""
    scheduler = config.get("scheduler") or {}
    if scheduler.get("search_space"):
        return [
            "scheduler.search_space: --distinct enumerates the space to know when every configuration has run, "
            "and a define-by-run space cannot be enumerated; put the parameters in `parameters:` or drop --distinct"
        ]
    found = [
        f"parameters.{name}: --distinct needs a discrete space that W&B's grid enumerates as the search samples "
        f"it (value, values, int_uniform), but this is a '{spec.get('distribution', 'inferred')}' distribution; "
        "list its `values:` or drop --distinct"
        for name, spec, kind in _leaves(config.get("parameters") or {})
        if kind not in _ENUMERABLE
    ]
    if not found and len(points(config)) > MAX_POINTS:
        found.append(f"parameters: --distinct enumerates the space, which has over {MAX_POINTS:,} points; drop it")
    return found


def _leaves(parameters: dict[str, Any], prefix: str = "") -> Iterable[tuple[str, dict[str, Any], str]]:
    for key, spec in parameters.items():
        if isinstance(spec, dict) and "parameters" in spec:
            yield from _leaves(spec["parameters"], f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", spec, params.HyperParameter(key, spec).type


def key(params_: dict[str, Any]) -> str:
    """A configuration's identity: its W&B-form parameters as canonical JSON.

    >>> key({"b": {"value": 1}, "a": {"value": "x"}})
    '{"a": {"value": "x"}, "b": {"value": 1}}'
    """
    return json.dumps(plain(params_), sort_keys=True)


def points(config: dict[str, Any]) -> tuple[str, ...]:
    """The :func:`key` of every configuration of the space, in W&B's grid order (at most ``MAX_POINTS + 1``)."""
    return _points(json.dumps(config.get("parameters") or {}, sort_keys=True))


@functools.lru_cache(maxsize=8)
def _points(parameters: str) -> tuple[str, ...]:
    grid = {"method": "grid", "parameters": json.loads(parameters)}
    runs = next_runs(grid, [], n=MAX_POINTS + 1)
    return tuple(key(run.config) for run in runs if run is not None)


def seen(trials: Iterable[Trial], names: Iterable[str]) -> set[str]:
    """The configurations ``trials`` ran, restricted to the sweep's parameter ``names`` (constants included)."""
    wanted = set(names)
    return {key({k: v for k, v in t.params.items() if k in wanted}) for t in trials}


def remaining(config: dict[str, Any], done: set[str]) -> list[dict[str, Any]]:
    """The configurations of the space (W&B's form) whose key is not in ``done``, in grid order."""
    return [json.loads(k) for k in points(config) if k not in done]
