"""Finding and ending a killed controller's trial processes by their environment (localsweep/run/orphans.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from localsweep.core.trial import RUNNING, Trial
from localsweep.run.orphans import end_orphans, trial_processes
from localsweep.workers.handoff import SWEEP_ID_VAR


def trial(run_id: str, pid: int | None) -> Trial:
    return Trial(1, run_id, RUNNING, {}, 0.0, None, None, None, None, [], {}, [], None, False, False, pid)


def test_end_orphans_kills_the_processes_of_those_trials_only():
    env = {**os.environ, SWEEP_ID_VAR: "sweep1", "WANDB_RUN_ID": "run1"}
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    orphan = subprocess.Popen(sleep, env=env)
    other = subprocess.Popen(sleep, env={**env, "WANDB_RUN_ID": "run2"})
    try:
        assert trial_processes("sweep1", ["run1"]) == [orphan.pid]
        assert trial_processes("sweep2", ["run1"]) == []
        end_orphans("sweep1", [trial("run1", pid=None)])  # no pid on record: found by its environment
        assert orphan.wait(timeout=5) == -9
        assert other.poll() is None
    finally:
        for process in (orphan, other):
            process.kill()
            process.wait()
