"""Upload an offline sweep so that it becomes a real W&B sweep, which ``wandb agent`` can continue online.

W&B's own mechanisms, in two steps (wandb 0.23.1):

1. ``wandb sync --project P [--entity E] RUN_DIR ...`` uploads every trial's offline run into the project. The runs
   name no sweep (the trials ran without ``WANDB_SWEEP_ID``, see
   :meth:`localsweep.workers.handoff.TrialTask.environment`): a run naming a sweep the server has never seen is
   refused (404, wandb issue #8115).
2. ``wandb.sweep(config, entity=E, project=P, prior_runs=[run ids])`` creates the sweep from the stored YAML and
   attaches those runs to it (``InternalApi.upsert_sweep`` sends them as ``priorRunsFilters``, the same request
   as ``wandb sweep --prior_run ID``). W&B's search then counts them: a grid skips the points that ran, bayes
   models their results.

The W&B sweep's path is recorded in the store, so a second ``sync`` does not make a second sweep. When the runs
lie on several hosts (agents sharing a PostgreSQL store), ``sync`` on each host uploads the runs kept there and
records them; the host that uploads the last ones makes the sweep.
"""

from __future__ import annotations

import io
import os
import shlex
import socket
import sys
from collections import Counter
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from localsweep.core import runlog
from localsweep.storage.lease import hostname
from localsweep.storage.store import SweepStore

_DEFAULT_BASE_URL = "https://api.wandb.ai"


@dataclass(frozen=True)
class SyncPlan:
    """What ``sync`` does: the run ids of every trial the W&B sweep will hold, the run dirs this host uploads
    now, the runs still to be uploaded on other hosts (host -> count), the W&B project and entity."""

    sweep_name: str
    config: dict[str, object]
    project: str
    entity: str | None
    run_ids: list[str]
    run_dirs: dict[str, Path]
    elsewhere: dict[str, int]

    def upload_environment(self) -> dict[str, str]:
        """The environment of the upload: this one, explicitly online (uploading is never offline)."""
        return {**os.environ, "WANDB_MODE": "online"}

    def upload_command(self) -> list[str]:
        """The ``wandb sync`` argv uploading every run into the project (no key in argv)."""
        argv = [sys.executable, "-m", "wandb", "sync", "--project", self.project]
        if self.entity:
            argv += ["--entity", self.entity]
        return [*argv, *map(str, self.run_dirs.values())]

    def sweep_command(self, config_path: Path) -> list[str]:
        """The ``wandb sweep`` argv that makes the same sweep by hand (what :func:`create_sweep` does in-process)."""
        argv = [sys.executable, "-m", "wandb", "sweep", "--project", self.project]
        if self.entity:
            argv += ["--entity", self.entity]
        argv += ["--name", str(self.config.get("name") or self.sweep_name)]
        for run_id in self.run_ids:
            argv += ["--prior_run", run_id]
        return [*argv, str(config_path)]


def plan(store: SweepStore, project: str | None = None, entity: str | None = None) -> SyncPlan:
    """The upload of ``store``'s sweep: every trial with a run dir except the interrupted ones (their points ran
    again). The project is ``project``, else ``$WANDB_PROJECT``, else the YAML's ``project:``, else the one project
    the runs recorded; the entity is ``entity``, else ``$WANDB_ENTITY``, else the YAML's ``entity:`` (else W&B's
    default entity of the key).

    Raises
    ------
    ValueError
        When no trial has a run to upload, or no single project can be chosen.
    """
    trials = [t for t in store.trials() if t.run_dir is not None and not t.requeued]
    if not trials:
        raise ValueError(f"sweep {store.name} has no trial with a wandb run to upload yet")
    uploaded, here = set(store.uploaded()), hostname()
    local = [t for t in trials if t.host in (None, here) and t.run_dir is not None and t.run_dir.is_dir()]
    elsewhere = Counter(str(t.host) for t in trials if t not in local and t.run_id not in uploaded)
    run_dirs = {t.run_id: t.run_dir for t in local if t.run_dir is not None and t.run_id not in uploaded}
    project = project or os.environ.get("WANDB_PROJECT") or _str(store.config.get("project"))
    if not project:
        recorded = {runlog.read_run(t.run_dir).project for t in local if t.run_dir is not None} - {None, ""}
        if len(recorded) != 1:
            raise ValueError(
                f"sweep {store.name}: choose the W&B project with --project (the YAML sets none, and its runs "
                f"recorded {sorted(map(str, recorded)) or 'none'})"
            )
        project = str(recorded.pop())
    entity = entity or os.environ.get("WANDB_ENTITY") or _str(store.config.get("entity"))
    return SyncPlan(store.name, store.config, project, entity, [t.run_id for t in trials], run_dirs, dict(elsewhere))


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def create_sweep(sync_plan: SyncPlan) -> str:
    """Create the W&B sweep holding the uploaded runs; returns its path ``ENTITY/PROJECT/SWEEP_ID``."""
    import wandb  # an edge: talks to the W&B server
    from wandb.apis import InternalApi

    config = {**sync_plan.config, "name": sync_plan.config.get("name") or sync_plan.sweep_name}
    os.environ["WANDB_MODE"] = "online"  # creating a sweep is never offline; said explicitly for the SDK
    with redirect_stdout(io.StringIO()):  # wandb.sweep prints the id; we print the whole path below
        sweep_id = wandb.sweep(config, entity=sync_plan.entity, project=sync_plan.project, prior_runs=sync_plan.run_ids)
    entity = sync_plan.entity or InternalApi().settings("entity")
    return f"{entity}/{sync_plan.project}/{sweep_id}" if entity else f"{sync_plan.project}/{sweep_id}"


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
    default_port = 443 if url.scheme == "https" else 80
    try:
        with socket.create_connection((url.hostname or "", url.port or default_port), timeout=timeout):
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
