"""One trial's page: its record, the end of its log (when the log is on this host), and the commands for its
report and its comparison with the best trial."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from localsweep.core.trial import FINISHED, STOPPED, Trial
from localsweep.dashboard import rows
from localsweep.storage.view import DEFAULT_ROOT, STORAGE_VAR

LOG_TAIL_BYTES = 64 * 1024


def detail(
    trial: Trial, history: list[dict[str, Any]] | None, log: Path, sweep: str, best: str | None, root: Path,
    storage: str | None,
) -> dict[str, Any]:  # fmt: skip
    """What the trial page shows: ``trial`` (``history``: its live one when longer), the tail of ``log``, and the
    commands, run from the checkout, that explain it (``best``: the run id of the sweep's best trial)."""
    return {
        "trial": rows.record(trial, history),
        "log": log_tail(log, trial.host),
        "commands": commands(sweep, trial, best, root, storage),
    }


def log_tail(path: Path, host: str | None, limit: int = LOG_TAIL_BYTES) -> dict[str, Any]:
    """``{"text": the last ``limit`` bytes of the log (whole lines), "note": why there is none}``."""
    try:
        with path.open("rb") as file:
            size = file.seek(0, 2)
            file.seek(max(0, size - limit))
            data = file.read()
    except OSError:
        where = f" (the trial ran on host {host})" if host else ""
        return {"text": None, "note": f"no log at {path} on this host{where}"}
    text = data.decode("utf-8", errors="replace")
    if size > limit:
        text = "…" + text.partition("\n")[2]
    return {"text": text, "note": None}


def commands(sweep: str, trial: Trial, best: str | None, root: Path, storage: str | None) -> list[str]:
    """The report of this trial and its comparison with the best one (``python -m analysis``), as typed.

    >>> from localsweep.core.trial import TrialState
    >>> t = Trial(3, "abc", TrialState.FINISHED, {}, 0.0, 1.0, 0, None, None, [], {}, [], 0.9, False, False, None)
    >>> commands("grid", t, "best1", Path("offline_sweeps"), None)
    ['python -m analysis report --sweep grid --trial abc', 'python -m analysis compare --sweep grid best1 abc', \
'python -m localsweep status grid']
    """
    where = [] if root == DEFAULT_ROOT else ["--sweeps-root", str(root)]
    if storage is not None:
        where = ["--storage", f"${STORAGE_VAR}"]  # never the URL itself: it may hold a password
    quoted = " ".join(shlex.quote(w) if not w.startswith("$") else f'"{w}"' for w in where)
    tail = f" {quoted}" if quoted else ""
    name, run_id = shlex.quote(sweep), shlex.quote(trial.run_id)
    found = []
    if trial.state in (FINISHED, STOPPED):
        found.append(f"python -m analysis report --sweep {name} --trial {run_id}{tail}")
        if best is not None and best != trial.run_id:
            found.append(f"python -m analysis compare --sweep {name} {shlex.quote(best)} {run_id}{tail}")
    status_where = tail.replace("--sweeps-root", "--root")
    found.append(f"python -m localsweep status {name}{status_where}")
    return found
