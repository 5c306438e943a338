"""What people read: the live progress line, the table of trials, and the ``status``/``best`` JSON."""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any, TextIO

from contract.objectives import is_multi_objective, objectives, sort_key
from localsweep.core import pareto
from localsweep.core.trial import CRASHED, FINISHED, RUNNING, STOPPED, Trial
from localsweep.outcome.explain import failed_after_run, headline
from localsweep.storage.cache import TrialCache
from localsweep.storage.view import SweepView


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m{secs:02d}s"


def ranked(store: SweepView, trials: Sequence[Trial]) -> list[Trial]:
    """Trials best first by the sweep metric (imputed and missing values last), then in start order."""

    def key(t: Trial) -> tuple[int, float, int]:
        real = t.metric_value is not None and not t.metric_imputed
        return (0 if real else 1, sort_key(store.goal, t.metric_value or 0.0) if real else 0.0, t.number)

    return sorted(trials, key=key)


def table(store: SweepView, trials: Sequence[Trial], controller_alive: bool = True) -> str:
    """A plain-text table of ``trials`` sorted by the metric, one row per trial.

    A running trial shows how long it has run so far (``1m05s+``); when no live controller holds the sweep, its
    state reads ``running, no controller`` (``resume`` records how it ended). A sweep with several metrics shows
    each, and ``*`` marks the trials on the Pareto front.
    """
    if not trials:
        return "no trials yet"
    multi = is_multi_objective(store.config)
    names = [o.name for o in objectives(store.config)] if multi else [store.metric_name or "metric"]
    header = ["#", "run id", "state", *names, *(["front"] if multi else []), "time", "parameters"]
    rows = [header]
    now = time.time()
    on_front = {t.run_id for t in pareto.front(store.config, trials)} if multi else set()
    for t in ranked(store, trials):
        metric = [_fmt(t.metric_value) + (" (imputed)" if t.metric_imputed else "")]
        if multi:
            metric = [_fmt(v) for v in pareto.values(store.config, t)] + ["*" if t.run_id in on_front else ""]
        params = " ".join(f"{k}={v}" for k, v in t.config.items())
        state, duration = str(t.state), _duration(t.duration)
        if t.state == RUNNING:
            state = state if controller_alive else f"{state}, no controller"
            duration = _duration(now - t.started_at) + "+"
        elif t.requeued:
            state += " (interrupted)"
        elif t.retried:
            state += " (retried)"
        elif marks := _marks(t):
            state += f" ({marks})"
        rows.append([str(t.number), t.run_id, state, *metric, duration, params])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[-1]]) for row in rows)


def _marks(trial: Trial) -> str:
    """What the state of a finished or stopped trial does not say: no score, or a process that failed after its
    wandb run finished (its exit code)."""
    marks = ["unscored"] if trial.unscored else []
    if trial.state in (FINISHED, STOPPED) and failed_after_run(trial.error):
        marks.append(f"exit {trial.exit_code}")
    return ", ".join(marks)


def error_notes(trials: Sequence[Trial]) -> str:
    """One line per trial whose record has an error, with its cause (interrupted trials left out: their points
    ran again); empty when there is none."""
    shown = [t for t in trials if t.error and not t.requeued]
    lines = [f"  trial {t.number} {t.run_id} {t.state}: {headline(t.error)}" for t in shown]
    return "\n".join(["errors (`status --json` has each in full):", *lines]) if lines else ""


def finite(value: Any) -> Any:
    """``value`` with every NaN and ±inf replaced by None (JSON has no such numbers; ``NaN`` breaks its readers).

    >>> finite({"loss": float("nan"), "acc": [0.5, float("inf")]})
    {'loss': None, 'acc': [0.5, None]}
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def _non_finite(summary: dict[str, Any]) -> dict[str, str]:
    """The summary values that JSON shows as null because they are NaN or ±inf, as JavaScript writes them."""
    return {
        k: "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
        for k, v in summary.items()
        if isinstance(v, float) and not math.isfinite(v)
    }


def trial_json(store: SweepView, trial: Trial) -> dict[str, Any]:
    """One trial as JSON-ready values (what ``best --json`` prints and the analysis package reads). Values that
    are NaN or ±inf are null: ``non_finite`` names those of the summary, ``error`` says why a trial is unscored."""
    return {
        "sweep_name": store.name,
        "sweep_id": store.sweep_id,
        "sweep_dir": str(store.directory.resolve()),
        "number": trial.number,
        "run_id": trial.run_id,
        "state": trial.state,
        "run_dir": None if trial.run_dir is None else str(trial.run_dir.resolve()),
        "config": trial.config,
        "metric_name": store.metric_name,
        "goal": store.goal,
        "metric_value": trial.metric_value,
        "metric_imputed": trial.metric_imputed,
        "metrics": dict(
            zip([o.name for o in objectives(store.config)], pareto.values(store.config, trial), strict=True)
        ),
        "summary": finite(trial.summary),
        "non_finite": _non_finite(trial.summary),
        "duration_s": trial.duration,
        "requeued": trial.requeued,
        "agent": trial.agent,
        "host": trial.host,
        "retried": trial.retried,
        "exit_code": trial.exit_code,
        "cause": headline(trial.error) or None,
        "error": trial.error,
    }


def controller_line(store: SweepView) -> str:
    """Who runs the sweep now: ``controller: pid 12 on host h, heartbeat 1 s ago`` or why nobody does."""
    holder, dead = store.controller()
    if holder is None:
        return "controller: none running"
    described = holder.describe(time.time())
    if dead is not None:
        return f"controller: dead ({described}; {dead}): `python -m localsweep resume {store.name}` continues"
    return f"controller: running ({described})"


def controller_json(store: SweepView) -> dict[str, Any] | None:
    """The controller holding the sweep (``alive`` False with ``dead_because`` when it is dead), or None."""
    holder, dead = store.controller()
    if holder is None:
        return None
    return {
        "host": holder.host,
        "pid": holder.pid,
        "acquired_at": holder.acquired_at,
        "heartbeat_age_s": max(0.0, time.time() - holder.heartbeat_at),
        "alive": dead is None,
        "dead_because": dead,
    }


def status_json(store: SweepView) -> dict[str, Any]:
    """The whole sweep: its settings, controller, counts per state, best trial and every trial."""
    trials = store.trials()
    best = store.best_trial()
    return {
        "sweep_name": store.name,
        "sweep_id": store.sweep_id,
        "sweep_dir": str(store.directory.resolve()),
        "source": store.source,
        "method": store.config.get("method"),
        "metric": store.config.get("metric"),
        "metrics": store.config.get("metrics"),
        "controller": controller_json(store),
        "ended": store.ended(),
        "counts": dict(Counter(t.state for t in trials)),
        "best": None if best is None else trial_json(store, best),
        "pareto_front": [t.run_id for t in pareto.front(store.config, trials)]
        if is_multi_objective(store.config)
        else None,
        "trials": [trial_json(store, t) for t in ranked(store, trials)],
    }


class Progress:
    """A one-line live display on a terminal; on anything else (CI logs, files) one plain line per event."""

    def __init__(self, store: SweepView, stream: TextIO = sys.stderr) -> None:
        self._store = store
        self._stream = stream
        self.live = stream.isatty()
        self._shown = ""

    def line(self, cache: TrialCache, planned: int | None, seconds_per_trial: float | None, workers: int) -> str:
        """The status line: done/running/failed, best so far, ETA (from the agent's ``cache``: no store read)."""
        counts, leader = cache.counts, cache.leader
        done = counts[FINISHED] + counts[STOPPED] + counts[CRASHED]
        best_text = "-" if leader is None else f"{_fmt(leader.metric_value)} ({leader.run_id})"
        eta = None
        if planned is not None and seconds_per_trial is not None:
            eta = max(0, planned - done) * seconds_per_trial / workers
        return (
            f"{self._store.name}: {done}/{planned or '?'} done ({counts[STOPPED]} stopped, {counts[CRASHED]} "
            f"failed), {counts[RUNNING]} running | best {self._store.metric_name or 'metric'} {best_text} | "
            f"ETA {_duration(eta) if eta is not None else '?'}"
        )

    def ended(self, trial: Trial) -> str:
        """The event line of a trial that ended: its state, its metric and, when its record has an error, the cause
        (the exception line or the outcome rule's reason, never the end of wandb's footer)."""
        name = self._store.metric_name or "metric"
        detail = f" {name}={trial.metric_value:.4g}" if trial.metric_value is not None else ""
        detail += " (imputed)" if trial.metric_imputed else ""
        if trial.error:
            detail += f" {'error' if trial.state == CRASHED else 'note'}: {headline(trial.error)}"
        return f"trial {trial.number} {trial.run_id} {trial.state}{detail}"

    def show(self, status: str) -> None:
        """Redraw the live line (terminal only)."""
        if self.live and status != self._shown:
            self._stream.write("\r\033[K" + status)
            self._stream.flush()
            self._shown = status

    def event(self, text: str, status: str | None) -> None:
        """Print an event line; on a terminal the live line is redrawn under it, elsewhere ``status`` follows."""
        if self.live:
            self._stream.write("\r\033[K" + text + "\n" + self._shown)
        else:
            self._stream.write(text + "\n" + (f"{status}\n" if status else ""))
        self._stream.flush()

    def close(self) -> None:
        """End the live line."""
        if self.live and self._shown:
            self._stream.write("\n")
            self._stream.flush()
