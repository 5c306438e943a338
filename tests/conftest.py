"""Shared fixtures: every test runs wandb offline with all of its directories under tmp_path."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

_WANDB_DIR_VARS = ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR", "WANDB_ARTIFACT_DIR")


@pytest.fixture(autouse=True)
def wandb_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point wandb at tmp_path, offline and quiet; no key, no network, nothing written to $HOME."""
    root = tmp_path / "wandb-home"
    for var in _WANDB_DIR_VARS:
        path = root / var.lower()
        path.mkdir(parents=True)
        monkeypatch.setenv(var, str(path))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONSOLE", "off")
    monkeypatch.setenv("WANDB_DISABLE_GIT", "true")
    monkeypatch.setenv("WANDB__DISABLE_STATS", "true")
    monkeypatch.setenv("WANDB__DISABLE_META", "true")
    monkeypatch.setenv("WANDB__SAVE_REQUIREMENTS", "false")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    for var in ("WANDB_API_KEY", "WANDB_SWEEP_ID", "WANDB_SWEEP_PARAM_PATH", "WANDB_RUN_ID", "WANDB_PROJECT"):
        monkeypatch.delenv(var, raising=False)
    _teardown_wandb()
    yield root
    _teardown_wandb()


def _teardown_wandb() -> None:
    # wandb keeps one process-wide setup (and its settings, WANDB_DIR included) until teardown: a test that ran
    # wandb in-process must not hand its directories to the next one.
    wandb = sys.modules.get("wandb")
    if wandb is not None:
        wandb.teardown()


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """The environment for a child process started by a test (the autouse fixture has already set it)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT)
    return env
