"""What ``method: custom`` must satisfy before anything runs, each problem with its key path.

The user's functions are called once here, as they will be for every suggestion (``optimizer(None)`` and
``search_space`` on a throwaway study), so a broken ``source`` is found before any trial starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
from optuna.pruners import NopPruner

from contract.objectives import objectives
from localsweep.search.custom.source import FUNCTIONS, SchedulerError, Source
from localsweep.search.custom.space import translate
from localsweep.search.custom.study import STUDY_NAME, Engine


def violations(config: dict[str, Any], workdir: Path) -> list[str]:
    """Every reason a ``method: custom`` sweep cannot run (empty for other methods: W&B's schema checks those)."""
    if config.get("method") != "custom":
        return []
    scheduler = config.get("scheduler")
    if not isinstance(scheduler, dict):
        return ["method: custom needs `scheduler: {engine: optuna}`: W&B's schema names no default engine for it"]
    if scheduler.get("engine") == "ax":
        return [
            "scheduler.engine: W&B's schema accepts 'ax', but localsweep runs `method: custom` with Optuna only "
            "(Ax is not in this project's locked dependencies): use engine: optuna"
        ]
    if scheduler.get("engine") != "optuna":
        return []  # W&B's own check already says which engines `method: custom` takes
    found = [] if objectives(config) else ["metric: method custom needs `metric:` or `metrics:` for Optuna to optimise"]
    space, untranslatable = translate(config.get("parameters") or {})
    found += untranslatable
    try:
        source = Source.read(scheduler, workdir)
    except OSError as err:
        return [*found, f"scheduler.source: cannot read {workdir / str(scheduler['source'])}: {err.strerror}"]
    for key in FUNCTIONS:
        try:
            (source.function(key, scheduler) if source else None)
        except SchedulerError as err:
            found.append(f"scheduler.{key}: {err}")
    if found:
        return found
    return _dry_run(Engine(scheduler, space, objectives(config), source))


def _dry_run(engine: Engine) -> list[str]:
    """Call the user's functions as a suggestion would; what they raise is the user's to fix."""
    try:
        _, pruner = engine.parts(seed=None)
    except SchedulerError as err:
        return [f"scheduler.optimizer: {err}"]
    except Exception as err:  # raised by the user's optimizer(): a problem to report, not a crash
        return [f"scheduler.optimizer: calling it raised {type(err).__name__}: {err}"]
    if len(engine.objectives) > 1 and not isinstance(pruner, NopPruner):
        return [
            f"scheduler.optimizer: returned a {type(pruner).__name__}, but Optuna cannot prune a multi-objective "
            "study (Trial.report refuses one): return a sampler, or a study without a pruner (NopPruner)"
        ]
    study = optuna.create_study(study_name=STUDY_NAME, directions=[o.goal for o in engine.objectives])
    try:
        engine.ask(study)
    except SchedulerError as err:
        return [f"scheduler.search_space: {err}"]
    except Exception as err:  # raised by the user's search_space(): a problem to report, not a crash
        return [f"scheduler.search_space: calling it raised {type(err).__name__}: {err}"]
    return []
