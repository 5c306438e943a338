"""Live history for hyperband and the dashboard: every ``wandb.log`` of a trial is also appended to
``$LOCALSWEEP_LIVE_HISTORY``.

Why: offline, wandb-core writes the ``.wandb`` record log in whole 32 KiB blocks (its leveldb-style writer has
no flush), so a trial logging a few numbers per epoch shows nothing on disk until it ends: hyperband would have
no history to judge, and the dashboard no epochs to show. W&B's own agent does not have this problem because the
server streams history.

How it gets loaded: command-mode trials get this directory first on PYTHONPATH, and Python imports
``sitecustomize`` at start-up; pooled workers import it directly. It wraps ``wandb.sdk.wandb_run.Run._log`` (the
one method behind ``run.log`` and ``wandb.log``, wandb 0.23.1), records ``{"_step": step, <numeric items>}`` per
call as one JSON line, then runs any other ``sitecustomize`` it shadowed. It does nothing when
``LOCALSWEEP_LIVE_HISTORY`` is unset.

Rungs (``localsweep/workers/rungs.py``): when ``LOCALSWEEP_RUNGS`` lists history lengths, the call that logs the sweep
metric's value number N, N a rung, then waits until the decision file holds a length >= N (go on) or ``stop``
(the agent is stopping the trial: its signal arrives meanwhile), at most ``LOCALSWEEP_RUNG_WAIT`` seconds.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

LIVE_HISTORY_VAR = "LOCALSWEEP_LIVE_HISTORY"
RUNGS_VAR = "LOCALSWEEP_RUNGS"
RUNG_METRIC_VAR = "LOCALSWEEP_RUNG_METRIC"
DECISION_VAR = "LOCALSWEEP_DECISION"
RUNG_WAIT_VAR = "LOCALSWEEP_RUNG_WAIT"
STOP = "stop"
_POLL_S = 0.02


def _numbers(data: Any) -> dict[str, float]:
    items = data.items() if hasattr(data, "items") else []
    return {
        str(k): float(v)
        for k, v in items
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(float(v))
    }


def _record(path: str, step: int, data: Any) -> None:
    with open(path, "a", encoding="utf-8") as live:
        live.write(json.dumps({"_step": step, **_numbers(data)}) + "\n")


class _HookWandbRun(importlib.abc.MetaPathFinder):
    """Wraps ``Run._log`` as soon as ``wandb.sdk.wandb_run`` is imported (never imports wandb itself)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "wandb.sdk.wandb_run":
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(name)
            if spec is not None and spec.loader is not None:
                original_exec = spec.loader.exec_module

                def exec_module(module: Any) -> None:
                    original_exec(module)
                    wrap(module.Run)

                spec.loader.exec_module = exec_module  # type: ignore[method-assign]
            return spec  # type: ignore[return-value]
        return None


def _wait_at_rung(run: Any, step: int, data: Any) -> None:
    """Wait for the controller's decision when this call logs the metric value that reaches a rung."""
    rungs, metric = os.environ.get(RUNGS_VAR), os.environ.get(RUNG_METRIC_VAR)
    if not rungs or not metric or metric not in _numbers(data):
        return
    steps = run.__dict__.setdefault("_localsweep_metric_steps", set())
    steps.add(step)  # one value per step: a step logged in several calls counts once
    if len(steps) not in {int(r) for r in rungs.split(",")}:
        return
    decision = os.environ.get(DECISION_VAR, "")
    deadline = time.monotonic() + float(os.environ.get(RUNG_WAIT_VAR, "120"))
    while time.monotonic() < deadline:
        try:
            said = Path(decision).read_text(encoding="utf-8").strip()
        except OSError:
            said = ""
        if said == STOP or (said.isdigit() and int(said) >= len(steps)):
            return
        time.sleep(_POLL_S)


def wrap(run_class: Any) -> None:
    """Make ``run_class._log`` also append each call's numbers to the live history file, and wait at rungs
    (idempotent)."""
    original = run_class._log
    if getattr(original, "_localsweep_live", False):
        return

    def _log(self: Any, data: Any, step: int | None = None, commit: bool | None = None) -> None:
        path = os.environ.get(LIVE_HISTORY_VAR)
        current = self._step if step is None else step
        original(self, data, step=step, commit=commit)
        if path:
            _record(path, current, data)
            _wait_at_rung(self, current, data)

    _log._localsweep_live = True  # type: ignore[attr-defined]
    run_class._log = _log


def install() -> None:
    """Wrap wandb's ``Run._log`` now if wandb is loaded, else when it gets imported."""
    module = sys.modules.get("wandb.sdk.wandb_run")
    if module is not None:
        wrap(module.Run)
    elif not any(isinstance(f, _HookWandbRun) for f in sys.meta_path):
        sys.meta_path.insert(0, _HookWandbRun())


def _run_shadowed_sitecustomize() -> None:
    here = str(Path(__file__).resolve().parent)
    others = [p for p in sys.path if p and str(Path(p).resolve()) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", others)
    if spec is not None and spec.loader is not None:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


if __name__ == "sitecustomize":  # loaded by the interpreter at start-up (command mode)
    if os.environ.get(LIVE_HISTORY_VAR):
        install()
    _run_shadowed_sitecustomize()
