"""One trial run alone, by the worker code of its sweep's mode: how ``localsweep rerun`` repeats a trial.

Command mode starts the trial's command as the sweep did (``command.CommandSlot``); pooled mode starts a new pooled
worker that runs this one trial (``pool.PooledSlot`` with one trial per worker), so nothing a worker kept from
earlier trials (imported modules, Keras' session, random generators, wandb's state) can reach it: a trial that ran
third in its worker and reruns identical alone shows that worker state did not change its numbers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from localsweep.workers.command import CommandSlot
from localsweep.workers.handoff import TrialTask
from localsweep.workers.pool import PooledSlot
from localsweep.workers.slot import Outcome, Slot

POLL_S = 0.1


def slot_for(
    config: dict[str, Any], function: str | None, slot_env: dict[str, str], workdir: Path, kill_delay: float
) -> Slot:
    """A fresh slot of the sweep's mode: pooled (``function``: ``module:callable``), else command mode; the trial
    starts in ``workdir`` (pooled: its code is imported from there first)."""
    if function:
        return PooledSlot(function, slot_env, 1, kill_delay, code_dir=workdir)
    return CommandSlot(config, slot_env, workdir, kill_delay)


def run_alone(slot: Slot, task: TrialTask, timeout: float | None = None) -> Outcome:
    """Run ``task`` in ``slot`` until it ends (killed after ``timeout`` seconds, if given); the slot is closed
    afterwards, also when this is interrupted."""
    deadline = None if timeout is None else time.monotonic() + timeout
    slot.start(task)
    try:
        while (outcome := slot.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                slot.kill()
                deadline = None
            time.sleep(POLL_S)
    finally:
        slot.close()
    return outcome
