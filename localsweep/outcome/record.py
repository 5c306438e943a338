"""Record how a trial ended: read its wandb run from disk, let :func:`localsweep.outcome.decide.decide` judge, store it.

The one path every ending takes (a trial's exit, early termination, a timeout, the sweep being stopped, a dead
worker, ``resume`` after ``kill -9``), so they cannot disagree about the same facts.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from contract import predictions as predictions_schema
from localsweep.core import runlog
from localsweep.core.trial import CRASHED, Trial
from localsweep.outcome.decide import Ending, Verdict, decide
from localsweep.search import measure, suggest
from localsweep.storage.layout import SweepLayout
from localsweep.storage.store import SweepStore
from localsweep.workers.handoff import read_live_history
from localsweep.workers.slot import log_tail

EXIT_RECORD_WAIT_S = 5.0
"""``run.finish()`` can return before wandb-core has written the run's exit record: wait this long for it."""


def read_run(layout: SweepLayout, run_id: str, wait: bool) -> runlog.RunRecord | None:
    """The trial's offline run as on disk (None if it has none); with ``wait``, until its exit record is there
    (at most :data:`EXIT_RECORD_WAIT_S`).

    Only a run directory is waited on: ``wandb.init`` creates it in the trial's own process, so a process that
    ended without one (it failed before ``wandb.init``, or never called it) will never have a run to wait for."""
    deadline = time.monotonic() + (EXIT_RECORD_WAIT_S if wait else 0.0)
    while True:
        run_dir = layout.find_run_dir(run_id)
        if run_dir is None:
            return None
        try:
            record = runlog.read_run(run_dir)
        except (OSError, ValueError):
            record = None  # the log is being created: its header is not on disk yet
        if (record is not None and record.finished) or time.monotonic() >= deadline:
            return record
        time.sleep(0.02)


@dataclass(frozen=True)
class Judged:
    """A trial's ending as judged from what its process did and its run logged, before anything is stored: the
    verdict, the history and summary to keep, and the metric as measured (always finite; None when it has none,
    or the trial is requeued: the caller imputes it where the verdict says so)."""

    verdict: Verdict
    history: list[dict[str, Any]]
    summary: dict[str, Any]
    value: float | None


def judge(config: dict[str, Any], ending: Ending, run: runlog.RunRecord | None, live: list[dict[str, Any]]) -> Judged:
    """Judge a trial's ending (pure: the caller reads ``run`` from disk and ``live``, the history mirrored while
    it ran, which is longer than the run's when a killed trial's last log block never reached the disk)."""
    history = [] if run is None else run.history
    if len(live) > len(history):
        history = live
    summary = {} if run is None else run.summary
    verdict = decide(replace(ending, unscored=measure.unscored(config, summary, history)), run)
    # An interrupted (requeued) trial is out of the search: no value, not even an imputed one.
    value = None if verdict.requeue else suggest.metric_value(config, summary, history)
    return Judged(verdict, history, summary, value)


def record_ending(
    store: SweepStore, run_id: str, ending: Ending, owner: str | None = None
) -> tuple[Trial, Verdict] | None:
    """Decide how trial ``run_id`` ended and store it in one transaction; returns the stored trial and verdict,
    or None when the store refused it (``owner``, the agent that ran it, no longer owns it: see
    :meth:`SweepStore.finish_trial`; without ``owner`` the caller holds the lease).

    A process that exited by itself has written (or is writing) its exit record, so its run is waited for; one
    killed by a signal, or not waited for at all, never will be. Where the store is the only place every host
    reaches (PostgreSQL), a finished trial's predictions table goes into it too.
    """
    code = None if ending.process is None else ending.process.exit_code
    run = read_run(store.layout, run_id, wait=code is not None and code >= 0)
    if ending.timed_out:
        ending = replace(ending, output_tail=log_tail(store.layout.log_path(run_id)))
    judged = judge(store.config, ending, run, read_live_history(store.layout.live_path(run_id)))
    verdict, history, summary, value = judged.verdict, judged.history, judged.summary, judged.value
    if verdict.imputed:  # W&B imputes the metric of a crashed run, and of one that never logged it finite
        trials = store.trials()
        this = replace(next(t for t in trials if t.run_id == run_id), history=history, summary=summary)
        value = suggest.imputed_metric(store.config, this, trials)
    recorded = store.finish_trial(
        run_id,
        owner=owner,
        state=verdict.state,
        requeued=verdict.requeue,
        exit_code=code,
        error=verdict.error,
        run_dir=None if run is None else run.run_dir,
        history=history,
        summary=summary,
        artifacts=[] if run is None else _artifacts(run),
        metric_value=value,
        metric_imputed=verdict.imputed,
    )
    if not recorded:
        return None
    if store.storage is not None and run is not None and verdict.state != CRASHED:
        _keep_predictions(store, run)
    return store.trial(run_id), verdict


def _keep_predictions(store: SweepStore, run: runlog.RunRecord) -> None:
    artifact = run.artifact(predictions_schema.ARTIFACT_TYPE)
    for name, path in ({} if artifact is None else artifact.entries).items():
        with contextlib.suppress(OSError):  # a file the run named but never wrote: the report says it is missing
            store.store_file(run.run_id, name, Path(path).read_bytes())


def _artifacts(run: runlog.RunRecord) -> list[dict[str, Any]]:
    return [
        {"name": a.name, "type": a.type, "entries": {k: str(v) for k, v in a.entries.items()}} for a in run.artifacts
    ]


def logged_keys(trial: Trial) -> list[str]:
    """The metric names a trial logged (history and summary), wandb's own ``_``-keys left out."""
    keys = {k for row in trial.history for k in row} | set(trial.summary)
    return sorted(k for k in keys if not k.startswith("_"))
