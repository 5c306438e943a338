"""``python -m localsweep sync``: upload the runs this host can read, check each on the server, make the W&B sweep.

What it guarantees: a run counts as uploaded only once W&B's server returns it (``wandb sync`` exits 0 even when
uploads fail); the W&B sweep names only runs found there, and is made once every run of the sweep is; the runs not
found stay to upload, and a second ``sync`` uploads just those. Waiting on the server is bounded by ``--timeout``
(the upload gets all of it but the share kept to check what arrived), and the end says what was and was not
uploaded. Exit codes: 0 done (or this host's share done, or the runs of a ``method: custom`` sweep uploaded);
1 not everything could be uploaded or checked (the reason is said; run ``sync`` again); 2 bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import yaml

from localsweep.bridge import server, sync
from localsweep.bridge.server import SYNC_TIMEOUT_S, Deadline, ServerError
from localsweep.storage.lease import hostname
from localsweep.storage.store import SweepStore

DEFAULT_TIMEOUT_S = SYNC_TIMEOUT_S
_CHECK_SHARE, _CHECK_MAX_S = 0.25, 60.0


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def run(store: SweepStore, args: argparse.Namespace, lock: Callable[[SweepStore], SweepStore]) -> int:
    """Sync ``store``'s sweep as ``args`` say (``project``, ``entity``, ``timeout``); returns the exit code.
    ``lock`` takes the sweep's lease (only one ``sync`` or controller writes at a time)."""
    try:
        sync_plan = sync.plan(store, args.project, args.entity)
    except ValueError as err:
        _say(f"error: {err}")
        return 2
    done = store.wandb_sweep
    if done is not None:
        later = [run_id for run_id in sync_plan.run_ids if run_id not in done["run_ids"]]
        _say(f"sweep {store.name} was uploaded as W&B sweep {done['path']} ({len(done['run_ids'])} runs)")
        if later:
            _say(f"{len(later)} trial(s) recorded since are not in it: {' '.join(later)}")
        return 0
    if not sync_plan.run_dirs and sync_plan.elsewhere:
        _say(
            f"error: none of the {len(sync_plan.unreadable)} runs still to upload is readable on this host "
            f"({hostname()}): their run dirs were recorded at {sync.where(sync_plan.unreadable)} by "
            f"{_hosts(sync_plan.elsewhere)}; fix: run `python -m localsweep sync {store.name}` where those folders "
            "are, or make them readable here at the same paths (mount the same volume at the same place)"
        )
        return 1
    config_path = store.layout.wandb_sweep_yaml
    config_path.write_text(yaml.safe_dump(store.config, sort_keys=False))
    deadline = Deadline(args.timeout)
    try:
        if not sync.has_key():
            raise ServerError("no W&B API key (set WANDB_API_KEY or run `wandb login`)")
        key_entity = server.default_entity(deadline)  # the first request: a silent or refusing server shows here
    except ServerError as err:
        _say(f"cannot upload sweep {store.name}: {err}; nothing was uploaded")
        _say("once that is fixed, `sync` runs the equivalent of:")
        _say(f"  {sync.describe(sync_plan.upload_command())}")
        if sync_plan.makes_sweep:
            _say(f"  {sync.describe(sync_plan.sweep_command(config_path))}")
        return 1
    if sync_plan.entity is None:
        sync_plan = sync_plan.with_entity(key_entity, sync_plan.entity_source)
    _say(
        f"sweep {store.name} goes to W&B project {sync_plan.entity}/{sync_plan.project}: entity {sync_plan.entity} "
        f"({sync_plan.entity_source})"
    )
    lock(store)
    try:
        return _upload_check_and_make(store, sync_plan, deadline)
    finally:
        store.release_lease()


def _hosts(counts: dict[str, int]) -> str:
    return ", ".join(f"{host} ({count})" for host, count in sorted(counts.items()))


def _upload_check_and_make(store: SweepStore, sync_plan: sync.SyncPlan, deadline: Deadline) -> int:
    entity, project = str(sync_plan.entity), sync_plan.project
    before = set(store.uploaded())
    upload = None
    if sync_plan.run_dirs:
        keep = min(_CHECK_MAX_S, deadline.seconds * _CHECK_SHARE)  # to ask the server what arrived
        upload = sync.upload(sync_plan, max(1.0, deadline.left() - keep))
    expected = [run_id for run_id in sync_plan.run_ids if run_id in before or run_id in sync_plan.run_dirs]
    again = f"run `python -m localsweep sync {store.name}` again"
    try:
        found = server.runs_found(entity, project, expected, deadline)
    except ServerError as err:
        _say(f"error: could not check which runs are on the server: {err}")
        if upload is not None:
            _say(f"unchecked ({_ended(upload, deadline)}), so they stay to upload: {' '.join(sync_plan.run_dirs)}")
        _say(f"no W&B sweep was made; {again}")
        return 1
    arrived = [run_id for run_id in sync_plan.run_dirs if run_id in found]
    missing = [run_id for run_id in sync_plan.run_dirs if run_id not in found]
    lost = sorted(run_id for run_id in before if run_id in expected and run_id not in found)
    store.record_uploaded(arrived, lost=lost)
    if sync_plan.run_dirs:
        _say(
            f"{len(arrived)} of {len(sync_plan.run_dirs)} run(s) uploaded from this host and found on the server "
            f"({entity}/{project})"
        )
    if missing and upload is not None:
        _say(f"error: not found on the server after `wandb sync` ({_ended(upload, deadline)}), so they stay to "
             f"upload: {' '.join(missing)}")  # fmt: skip
    if lost:
        _say(f"error: recorded as uploaded, but not on the server now, so they stay to upload (from the host that "
             f"can read them): {' '.join(lost)}")  # fmt: skip
    if missing or lost:
        _say(f"no W&B sweep was made; {again}")
        return 1
    if sync_plan.elsewhere:
        _say(
            f"runs still to upload lie on: {_hosts(sync_plan.elsewhere)}. Run `python -m localsweep sync "
            f"{store.name}` there: the last host makes the W&B sweep"
        )
        return 0
    if not sync_plan.makes_sweep:
        print(
            f"the {len(sync_plan.run_ids)} runs of sweep {store.name} are on W&B in {entity}/{project}; no W&B "
            "sweep is made: `method: custom` is searched by localsweep (Optuna), and no W&B agent or server can "
            "run it. Continue the search offline (`python -m localsweep resume`), or make a W&B sweep of another "
            "method and attach the runs by hand (`wandb sweep --prior_run RUN_ID ...`)"
        )
        return 0
    try:
        path = server.ask(lambda: sync.create_sweep(sync_plan), deadline.left(), "making the W&B sweep")
    except ServerError as err:
        _say(f"error: {err}; the runs are uploaded and checked: {again}")
        return 1
    store.record_wandb_sweep(path, sync_plan.run_ids)
    print(f"W&B sweep {path} holds the {len(sync_plan.run_ids)} runs of sweep {store.name}")
    print(f"continue the search online with: wandb agent {path}")
    return 0


def _ended(upload: sync.Upload, deadline: Deadline) -> str:
    if upload.exit_code is None:
        return (
            f"`wandb sync` was stopped after {upload.seconds:.0f} s, the rest of --timeout {deadline.seconds:g} s "
            "kept to check what arrived"
        )
    return f"`wandb sync` exited {upload.exit_code}; it exits 0 even when uploads fail"
