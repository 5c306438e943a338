"""Where a run came from: code revision, package versions, data digests."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
from pathlib import Path
from typing import Any

PACKAGES = ("tensorflow-cpu", "tensorflow", "keras", "wandb", "sweeps", "numpy", "scikit-learn", "pandas")
_REPO = Path(__file__).resolve().parents[1]


def git_revision(repo: Path = _REPO) -> dict[str, Any]:
    """``{"commit": sha, "dirty": bool}`` from git, else from ``GIT_COMMIT`` (set in images), else ``{}``."""
    try:
        commit = _git(repo, "rev-parse", "HEAD")
        dirty = bool(_git(repo, "status", "--porcelain", "--untracked-files=no"))
        return {"commit": commit, "dirty": dirty}
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
