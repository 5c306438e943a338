"""Upload a sweep's offline runs with ``wandb sync``, one call per sweep, once a key and the network exist."""

from __future__ import annotations

import os
import shlex
import socket
import sys
from urllib.parse import urlparse

from localsweep.store import SweepStore

_DEFAULT_BASE_URL = "https://api.wandb.ai"


def sync_command(store: SweepStore) -> list[str]:
    """The ``wandb sync`` argv uploading every trial run of the sweep into its project (no key in argv)."""
    run_dirs = [str(t.run_dir) for t in store.trials() if t.run_dir is not None]
    project = store.config.get("project") or store.name
    argv = [sys.executable, "-m", "wandb", "sync", "--project", str(project)]
    if store.config.get("entity"):
        argv += ["--entity", str(store.config["entity"])]
    return [*argv, *run_dirs]


def _base_url() -> str:
    return os.environ.get("WANDB_BASE_URL", _DEFAULT_BASE_URL)


def _has_key() -> bool:
    """Whether a key exists (environment or the ~/.netrc `wandb login` writes); the key itself is never read out."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    from wandb.sdk.lib.auth.wbnetrc import read_netrc_auth

    try:
        return read_netrc_auth(host=_base_url()) is not None
    except Exception:  # a malformed netrc entry is, for uploading, the same as none
        return False


def _server_reachable(timeout: float = 3.0) -> bool:
    url = urlparse(_base_url())
    try:
        with socket.create_connection((url.hostname or "", url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


def missing_requirements() -> list[str]:
    """What stops an upload now: no API key, or no route to the W&B server."""
    missing = []
    if not _has_key():
        missing.append("no W&B API key (set WANDB_API_KEY or run `wandb login`)")
    if not _server_reachable():
        missing.append(f"the W&B server ({_base_url()}) is unreachable")
    return missing


def describe(argv: list[str]) -> str:
    """A shell-ready rendering of ``argv`` for people to read or copy."""
    return shlex.join(argv)
