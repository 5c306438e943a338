"""How a trial receives its parameters and resources: the way `wandb agent` hands them over, but offline.

The agent (wandb/wandb_agent.py, ``Agent._command_run``) writes the parameters to
``$WANDB_DIR/wandb/sweep-<sweep id>/config-<run id>.yaml`` and sets ``WANDB_SWEEP_PARAM_PATH``,
``WANDB_RUN_ID`` and ``WANDB_SWEEP_ID``; the run's own ``wandb.init()`` then reads the file into ``wandb.config``
(wandb reads ``WANDB_SWEEP_PARAM_PATH`` whether or not a sweep id is set). Both execution modes do the same,
without ``WANDB_SWEEP_ID`` (see :meth:`TrialTask.environment`), plus ``WANDB_MODE=offline`` and a ``WANDB_DIR``
inside the sweep folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contract.reproduce import THREAD_VARS
from localsweep.storage.layout import SweepLayout
from localsweep.workers.inject.sitecustomize import LIVE_HISTORY_VAR

SWEEP_ID_VAR = "LOCALSWEEP_SWEEP_ID"
# Inherited variables a trial must not see: a WANDB_SWEEP_ID meant for `wandb agent` (an .env shared with the
# online services, say) would make wandb record it and ignore the project; WANDB_SERVICE would attach the trial
# to its parent's wandb service (the agent drops it too).
_NOT_INHERITED = ("WANDB_SWEEP_ID", "WANDB_SERVICE")


@dataclass(frozen=True)
class TrialTask:
    """What a worker needs to run one trial; the paths come from the sweep's
    :class:`~localsweep.storage.layout.SweepLayout`."""

    run_id: str
    sweep_id: str
    params: dict[str, Any]
    wandb_dir: Path
    param_path: Path
    log_path: Path
    live_path: Path
    project: str | None = None
    extra_env: tuple[tuple[str, str], ...] = ()

    @classmethod
    def create(
        cls,
        layout: SweepLayout,
        sweep_id: str,
        run_id: str,
        params: dict[str, Any],
        project: str | None,
        extra_env: Mapping[str, str] | None = None,
    ) -> TrialTask:
        """The task of trial ``run_id`` of a sweep laid out as ``layout``; ``extra_env`` goes to the trial too."""
        return cls(
            run_id=run_id,
            sweep_id=sweep_id,
            params=params,
            wandb_dir=layout.wandb_dir,
            param_path=layout.param_path(sweep_id, run_id),
            log_path=layout.log_path(run_id),
            live_path=layout.live_path(run_id),
            project=project,
            extra_env=tuple(sorted((extra_env or {}).items())),
        )

    @property
    def json_path(self) -> Path:
        """The ``${args_json_file}`` file (the agent writes it relative to the cwd; we keep it beside the YAML)."""
        return self.param_path.with_suffix(".json")

    def write_param_files(self) -> None:
        """Write the parameter file(s) with wandb's own writer, as the agent does, and make the output folders."""
        from wandb.sdk.lib import config_util  # wandb (2-3 s to import) only where a trial starts

        config_util.save_config_file_from_dict(str(self.param_path), self.params)
        self.json_path.write_text(json.dumps({k: v["value"] for k, v in self.params.items()}))
        self.live_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)

    def environment(self) -> dict[str, str]:
        """The variables that make the trial's ``wandb.init()`` an offline run with the sweep's parameters.

        ``WANDB_SWEEP_ID`` is deliberately not set: wandb would write this local id into the run record, and
        ``wandb sync`` of a run naming a sweep the server has never seen fails (404, the run is not added); inside
        a sweep wandb also ignores ``wandb.init(project=...)``. ``localsweep sync`` makes the runs members of a
        real W&B sweep instead (see ``localsweep/bridge/sync.py``). ``LOCALSWEEP_SWEEP_ID`` and ``WANDB_RUN_ID`` mark
        the trial's processes, so a later ``resume`` can find them.
        """
        env = {
            "WANDB_MODE": "offline",
            "WANDB_DIR": str(self.wandb_dir),
            "WANDB_RUN_ID": self.run_id,
            SWEEP_ID_VAR: self.sweep_id,
            "WANDB_SWEEP_PARAM_PATH": str(self.param_path),
            LIVE_HISTORY_VAR: str(self.live_path),
        }
        if self.project:
            env["WANDB_PROJECT"] = self.project
        return env | dict(self.extra_env)

    def process_environment(self, inherited: Mapping[str, str]) -> dict[str, str]:
        """The whole environment of the trial's process: ``inherited`` (less a stray ``WANDB_SWEEP_ID`` and
        ``WANDB_SERVICE``) with :meth:`environment` on top."""
        return {k: v for k, v in inherited.items() if k not in _NOT_INHERITED} | self.environment()


def read_live_history(path: Path) -> list[dict[str, Any]]:
    """The history rows a running trial has logged so far (one per step; a half-written last line is skipped)."""
    rows: dict[int, dict[str, Any]] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        rows.setdefault(int(entry["_step"]), {}).update(entry)
    return [rows[step] for step in sorted(rows)]


def gpu_ids() -> list[str]:
    """Visible GPUs: ``CUDA_VISIBLE_DEVICES`` if set, else ``nvidia-smi -L`` (no TensorFlow import needed)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [d for d in visible.split(",") if d.strip() and d.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=True)
    except (subprocess.SubprocessError, OSError):
        return []
    return [str(i) for i, line in enumerate(listing.stdout.splitlines()) if line.startswith("GPU ")]


def slot_environments(workers: int, gpus: list[str], cpus: int) -> list[dict[str, str]]:
    """Per-worker variables: one GPU each (round robin) on a GPU machine, else an equal share of the CPU threads.

    >>> slot_environments(2, [], 8)[1]["OMP_NUM_THREADS"]
    '4'
    >>> [env["CUDA_VISIBLE_DEVICES"] for env in slot_environments(3, ["0", "1"], 8)]
    ['0', '1', '0']
    """
    if gpus:
        return [{"CUDA_VISIBLE_DEVICES": gpus[i % len(gpus)]} for i in range(workers)]
    threads = str(max(1, cpus // workers))
    return [{var: os.environ.get(var, threads) for var in THREAD_VARS} for _ in range(workers)]
