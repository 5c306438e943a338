"""Upload an offline sweep so that it becomes a real W&B sweep, which ``wandb agent`` can continue online.

W&B's own mechanisms, in three steps (wandb 0.23.1):

1. ``wandb sync --project P --entity E RUN_DIR ...`` uploads every trial's offline run into the project. The runs
   name no sweep (the trials ran without ``WANDB_SWEEP_ID``, see
   :meth:`localsweep.workers.handoff.TrialTask.environment`): a run naming a sweep the server has never seen is
   refused (404, wandb issue #8115).
2. ``wandb sync`` exits 0 even when runs fail to upload (its sender logs the error and goes on, and
   ``wandb/sync/sync.py`` prints ``done.``), so each run is looked up on the server (W&B's public API, one runs
   query: :func:`localsweep.bridge.server.runs_found`). Only runs found there count as uploaded; the others stay to
   upload, and a second ``sync`` uploads just those.
3. ``wandb.sweep(config, entity=E, project=P, prior_runs=[run ids])`` creates the sweep from the stored YAML and
   attaches those runs to it (``InternalApi.upsert_sweep`` sends them as ``priorRunsFilters``, the same request
   as ``wandb sweep --prior_run ID``), once every one of them is found on the server. W&B's search then counts
   them: a grid skips the points that ran, bayes models their results. No W&B agent or server runs
   ``method: custom`` (Optuna, several metrics): for such a sweep the runs are uploaded and no sweep is made.

The W&B sweep's path is recorded in the store, so a second ``sync`` does not make a second sweep. A run dir this
host can read is this host's to upload, whoever recorded it: when the runs lie on several hosts (agents sharing a
PostgreSQL store, each with its own disk), ``sync`` on each host uploads the runs it can read and records them; the
host that uploads the last ones makes the sweep.
"""

from __future__ import annotations

import io
import os
import shlex
import signal
import subprocess
import sys
from collections import Counter
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from localsweep.bridge.server import base_url
from localsweep.core import runlog
from localsweep.storage.store import SweepStore


@dataclass(frozen=True)
class SyncPlan:
    """What ``sync`` does: the run ids of every trial the W&B sweep will hold, the run dirs this host uploads
    now, the runs still to be uploaded that this host cannot read (their recorded host -> count, and run id ->
    recorded run dir), the W&B project, and the entity with where it came from."""

    sweep_name: str
    config: dict[str, object]
    project: str
    entity: str | None
    entity_source: str
    run_ids: list[str]
    run_dirs: dict[str, Path]
    elsewhere: dict[str, int]
    unreadable: dict[str, Path]

    @property
    def makes_sweep(self) -> bool:
        """Whether W&B can run this sweep: no W&B agent or server runs ``method: custom``."""
        return self.config.get("method") != "custom"

    def with_entity(self, entity: str, source: str) -> SyncPlan:
        return SyncPlan(
            self.sweep_name, self.config, self.project, entity, source, self.run_ids, self.run_dirs,
            self.elsewhere, self.unreadable,
        )  # fmt: skip

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


def readable(run_dir: Path | None) -> bool:
    """Whether this host can read the offline run in ``run_dir`` (its ``.wandb`` record log)."""
    try:
        return run_dir is not None and any(run_dir.glob("run-*.wandb"))
    except OSError:
        return False


def plan(store: SweepStore, project: str | None = None, entity: str | None = None) -> SyncPlan:
    """The upload of ``store``'s sweep: every trial with a run dir except the interrupted ones (their points ran
    again); this host uploads those whose run dir it can read and no host has uploaded yet.

    The project is ``project``, else ``$WANDB_PROJECT``, else the YAML's ``project:``, else the one project the runs
    recorded. The entity is ``entity``, else ``$WANDB_ENTITY``, else the YAML's ``entity:``, else the one the runs
    recorded (``WANDB_ENTITY`` when they ran), else None (the key's own, asked of the server before uploading).

    Raises
    ------
    ValueError
        When no trial has a run to upload, no single project can be chosen, or the runs recorded another entity than
        the one given (runs and sweep would land in two entities).
    """
    trials = [t for t in store.trials() if t.run_dir is not None and t.counts]
    if not trials:
        raise ValueError(f"sweep {store.name} has no trial with a wandb run to upload yet")
    done = set(store.uploaded())
    here = [t for t in trials if readable(t.run_dir)]
    away = [t for t in trials if t not in here and t.run_id not in done]
    records = [runlog.read_run(t.run_dir) for t in here if t.run_dir is not None]
    project = project or os.environ.get("WANDB_PROJECT") or _str(store.config.get("project"))
    if not project:
        recorded = {r.project for r in records} - {None, ""}
        if len(recorded) != 1:
            raise ValueError(
                f"sweep {store.name}: choose the W&B project with --project (the YAML sets none, and its runs "
                f"recorded {sorted(map(str, recorded)) or 'none'})"
            )
        project = str(recorded.pop())
    given, source = _given_entity(store, entity)
    entity, source = _entity(store.name, given, source, {r.entity for r in records} - {None, ""})
    return SyncPlan(
        store.name,
        store.config,
        project,
        entity,
        source,
        [t.run_id for t in trials],
        {t.run_id: t.run_dir for t in here if t.run_dir is not None and t.run_id not in done},
        dict(Counter(str(t.host) for t in away)),
        {t.run_id: t.run_dir for t in away if t.run_dir is not None},
    )


def _given_entity(store: SweepStore, entity: str | None) -> tuple[str | None, str]:
    if entity:
        return entity, "--entity"
    if os.environ.get("WANDB_ENTITY"):
        return os.environ["WANDB_ENTITY"], "$WANDB_ENTITY"
    return _str(store.config.get("entity")), "the YAML's entity:"


def _entity(name: str, given: str | None, source: str, recorded: set[str | None]) -> tuple[str | None, str]:
    """The one entity of runs and sweep: ``wandb sync`` puts a run into the entity it recorded unless told another,
    while ``wandb.sweep`` makes the sweep in the entity it is given (else the key's), and a sweep's prior runs are
    looked up in its own entity."""
    if len(recorded) > 1:
        raise ValueError(
            f"sweep {name}: the runs were recorded for several entities ({', '.join(sorted(map(str, recorded)))}), "
            "and one W&B sweep holds runs of one entity; fix: sync the runs of each entity by hand with `wandb sync`"
        )
    if given and recorded and given not in recorded:
        (theirs,) = recorded
        raise ValueError(
            f"sweep {name}: the runs were recorded for entity {theirs!r} (WANDB_ENTITY when they ran), but sync was "
            f"given entity {given!r} ({source}); fix: pass --entity {theirs} to upload where they were meant to go, "
            f"or run the sweep again for entity {given}"
        )
    if given:
        return given, source
    if recorded:
        return str(next(iter(recorded))), "recorded by the runs: WANDB_ENTITY when they ran"
    return None, "the API key's default"


def _str(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Upload:
    """How ``wandb sync`` ended: its exit code, or None when it was stopped after ``seconds``."""

    exit_code: int | None
    seconds: float


def upload(sync_plan: SyncPlan, seconds: float) -> Upload:
    """Run ``wandb sync`` on this host's run dirs for at most ``seconds`` (then it is stopped: its own retries
    would go on for days against a server that stopped answering)."""
    process = subprocess.Popen(sync_plan.upload_command(), env=sync_plan.upload_environment(), start_new_session=True)
    try:
        return Upload(process.wait(timeout=seconds), seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        return Upload(None, seconds)


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


def has_key() -> bool:
    """Whether a key exists (environment or the ~/.netrc `wandb login` writes); the key itself is never read out."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    from wandb.sdk.lib.auth.wbnetrc import read_netrc_auth

    try:
        return read_netrc_auth(host=base_url()) is not None
    except Exception:  # a malformed netrc entry is, for uploading, the same as none
        return False


def where(run_dirs: dict[str, Path], limit: int = 3) -> str:
    """Some of the recorded run dirs, for people to find them."""
    shown = [str(path) for path in list(run_dirs.values())[:limit]]
    return ", ".join(shown) + (f" and {len(run_dirs) - limit} more" if len(run_dirs) > limit else "")


def describe(argv: list[str]) -> str:
    """A shell-ready rendering of ``argv`` for people to read or copy."""
    return shlex.join(argv)
