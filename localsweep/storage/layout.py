"""Where a sweep keeps its files: one folder per sweep, laid out here and nowhere else.

::

    <root>/<name>/sweep.db                     the store (trials, settings, the controller's lease)
    <root>/<name>/wandb/offline-run-<ts>-<id>/ each trial's wandb offline run (WANDB_DIR is the sweep folder)
    <root>/<name>/wandb/sweep-<id>/config-<run id>.yaml   the parameter file, where `wandb agent` writes it
    <root>/<name>/logs/<run id>.log            each trial's output
    <root>/<name>/live/<run id>.jsonl          each trial's wandb.log calls as they happen (early termination)
    <root>/<name>/wandb-sweep.yaml             the sweep's YAML as `sync` hands it to W&B
    <root>/<name>/reruns/<run id>-<time>/      a trial run again (`localsweep rerun`): its own folder like this one
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DB_NAME = "sweep.db"


@dataclass(frozen=True)
class SweepLayout:
    """The paths of one sweep's folder (``directory``)."""

    directory: Path

    @property
    def db(self) -> Path:
        """The SQLite store."""
        return self.directory / DB_NAME

    @property
    def wandb_dir(self) -> Path:
        """What trials get as ``WANDB_DIR`` (wandb adds ``wandb/`` under it), as an absolute path."""
        return self.directory.resolve()

    @property
    def logs_dir(self) -> Path:
        """The trials' output files."""
        return self.directory / "logs"

    def log_path(self, run_id: str) -> Path:
        """A trial's output (stdout and stderr)."""
        return self.logs_dir / f"{run_id}.log"

    def live_path(self, run_id: str) -> Path:
        """A trial's mirrored ``wandb.log`` calls (see ``localsweep/workers/inject``)."""
        return self.directory / "live" / f"{run_id}.jsonl"

    def param_path(self, sweep_id: str, run_id: str) -> Path:
        """Where ``wandb agent`` would write a trial's parameter file (``Agent._command_run``), under WANDB_DIR."""
        return self.wandb_dir / "wandb" / f"sweep-{sweep_id}" / f"config-{run_id}.yaml"

    def run_dir(self, run_id: str, started: str) -> Path:
        """Where wandb puts the offline run ``run_id`` that started at ``started`` (``YYYYmmdd_HHMMSS``)."""
        return self.wandb_dir / "wandb" / f"offline-run-{started}-{run_id}"

    def find_run_dir(self, run_id: str) -> Path | None:
        """The wandb run directory of ``run_id`` (offline, or online and synced), or None if there is none yet."""
        matches = sorted((self.wandb_dir / "wandb").glob(f"*run-*-{run_id}"))
        return matches[-1] if matches else None

    @property
    def wandb_sweep_yaml(self) -> Path:
        """The sweep's YAML as ``sync`` hands it to W&B (``wandb sweep --prior_run ... FILE``)."""
        return self.directory / "wandb-sweep.yaml"

    def rerun_dir(self, run_id: str, stamp: str) -> Path:
        """Where ``localsweep rerun`` runs trial ``run_id`` again (at ``stamp``, ``YYYYmmdd-HHMMSS``)."""
        return self.directory / "reruns" / f"{run_id}-{stamp}"
