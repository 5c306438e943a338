"""Where a run came from: code revision, package versions, and the machine and settings it trained with (what
``contract.reproduce`` compares when the run is repeated)."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
from pathlib import Path
from typing import Any

from contract import reproduce
from contract.objectives import Objective

PACKAGES = ("tensorflow-cpu", "tensorflow", "keras", "wandb", "sweeps", "numpy", "scikit-learn", "pandas")
_REPO = Path(__file__).resolve().parents[1]


def git_revision(repo: Path = _REPO) -> dict[str, Any]:
    """``{"commit": sha, "dirty": bool, "repo": top folder}`` from git, else from ``GIT_COMMIT`` (set in images),
    else ``{}``."""
    try:
        commit = _git(repo, "rev-parse", "HEAD")
        dirty = bool(_git(repo, "status", "--porcelain", "--untracked-files=no"))
        return {"commit": commit, "dirty": dirty, "repo": _git(repo, "rev-parse", "--show-toplevel")}
    except (OSError, subprocess.SubprocessError):
        commit = os.environ.get("GIT_COMMIT", "")
        return {"commit": commit, "dirty": None} if commit else {}


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=10, check=True)
    return done.stdout.strip()


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str]:
    """Installed versions of the packages that decide a run's numbers (absent ones are left out)."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def gpu() -> dict[str, Any]:
    """The GPUs TensorFlow trains on (their names; none on CPU), the CUDA and cuDNN it was built for, and
    ``CUDA_VISIBLE_DEVICES``: another GPU model or CUDA build can give other numbers even with op determinism."""
    import tensorflow as tf

    devices = tf.config.list_physical_devices("GPU")
    build = tf.sysconfig.get_build_info()
    return {
        "devices": [str(tf.config.experimental.get_device_details(d).get("device_name", d.name)) for d in devices],
        "cuda": build.get("cuda_version"),
        "cudnn": build.get("cudnn_version"),
        "visible": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }


def environment(objective: Objective) -> dict[str, Any]:
    """What a run records besides its data and code so that a rerun can repeat it and say what changed: Python,
    platform, CPU and thread settings (``contract.reproduce.machine``), the GPUs, op determinism, the objective
    whose best epoch it keeps, and the folder it ran in."""
    return {
        **reproduce.machine(),
        "gpu": gpu(),
        # trainer.recipe.prepare enables TensorFlow's op determinism for every run: an op without a deterministic
        # kernel raises instead of varying.
        "deterministic_ops": True,
        "objective": {"name": objective.name, "goal": objective.goal},
        "workdir": os.getcwd(),
    }
