"""How a trial receives its parameters and resources: the way `wandb agent` hands them over, but offline.

The agent (wandb/wandb_agent.py, ``Agent._command_run``) writes the parameters to
``$WANDB_DIR/wandb/sweep-<sweep id>/config-<run id>.yaml`` and sets ``WANDB_SWEEP_PARAM_PATH``,
``WANDB_RUN_ID`` and ``WANDB_SWEEP_ID``; the run's own ``wandb.init()`` then reads them into ``wandb.config``.
Both execution modes use exactly this, plus ``WANDB_MODE=offline`` and a ``WANDB_DIR`` inside the sweep folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wandb.sdk.lib import config_util

from localsweep.inject.sitecustomize import LIVE_HISTORY_VAR

# Set only when the user has not: the number of threads each trial's numeric libraries may use.
_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
)


@dataclass(frozen=True)
class TrialTask:
    """What a worker needs to run one trial."""

    run_id: str
    sweep_id: str
    params: dict[str, Any]
    wandb_dir: Path
    log_path: Path
    project: str | None = None

    @property
    def param_path(self) -> Path:
        """Where the agent would write this trial's parameter file."""
        return self.wandb_dir / "wandb" / f"sweep-{self.sweep_id}" / f"config-{self.run_id}.yaml"

    @property
    def live_path(self) -> Path:
        """Where the trial's ``wandb.log`` calls are mirrored while it runs (see ``localsweep/inject``)."""
        return self.log_path.parent.parent / "live" / f"{self.run_id}.jsonl"

    @property
    def json_path(self) -> Path:
        """The ``${args_json_file}`` file (the agent writes it relative to the cwd; we keep it beside the YAML)."""
        return self.param_path.with_suffix(".json")

    def write_param_files(self) -> None:
        """Write the parameter file(s) with wandb's own writer, as the agent does."""
        config_util.save_config_file_from_dict(str(self.param_path), self.params)
        self.live_path.parent.mkdir(parents=True, exist_ok=True)
        self.json_path.write_text(json.dumps({k: v["value"] for k, v in self.params.items()}))

    def environment(self) -> dict[str, str]:
        """The variables that make the trial's ``wandb.init()`` an offline run of this sweep."""
        env = {
            "WANDB_MODE": "offline",
            "WANDB_DIR": str(self.wandb_dir),
            "WANDB_RUN_ID": self.run_id,
            "WANDB_SWEEP_ID": self.sweep_id,
            "WANDB_SWEEP_PARAM_PATH": str(self.param_path),
            LIVE_HISTORY_VAR: str(self.live_path),
        }
        if self.project:
            env["WANDB_PROJECT"] = self.project
        return env


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
    return [{var: os.environ.get(var, threads) for var in _THREAD_VARS} for _ in range(workers)]
