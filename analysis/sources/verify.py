"""Whether the explained run reproduces: ``report --verify`` runs it again with the command that owns reruns, as a
subprocess, and reads the verdict that command writes (``contract.rerun``).

A trial of an offline sweep is rerun by ``python -m localsweep rerun`` (the engine's own worker code, command or
pooled mode), a run directory by ``python -m trainer --rerun``. A predictions file, or a run that is not on this host
(a W&B run, a trial whose run directory is on another host), is not checked, and the report says why.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.sources.source import Source
from contract import reproduce
from contract import rerun as repeat

_ROOT = Path(__file__).resolve().parents[2]
NOT_CHECKED = "not checked"


@dataclass(frozen=True)
class Where:
    """Where the source's sweep and trial are, as the command line gave them: ``sweep`` an offline sweep's name or
    folder (None: ``--run`` or ``--predictions``), ``root`` and ``storage`` where sweeps are recorded."""

    sweep: str | None
    run_dir: Path | None
    root: Path
    storage: str | None


def not_checked(reason: str) -> dict[str, Any]:
    """The report's line when no rerun was made.

    >>> not_checked("pass --verify to rerun it")["line"]
    'not checked: pass --verify to rerun it'
    """
    return {"status": NOT_CHECKED, "line": f"{NOT_CHECKED}: {reason}", "lines": [], "command": None, "folder": None}


def command(source: Source, where: Where) -> list[str] | str:
    """The rerun's command line, or why the run cannot be rerun here.

    >>> command(Source(Path("p.csv"), "file p.csv"), Where(None, None, Path("."), None))
    'a predictions file has no recorded run to repeat'
    """
    if source.run is None:
        return "a predictions file has no recorded run to repeat"
    if where.run_dir is not None:
        return [sys.executable, "-m", "trainer", "--rerun", str(where.run_dir)]
    if where.sweep is None or source.sweep is None or not Path(source.run.location).is_dir():
        return (
            f"run {source.run.run_id} is not on this host ({source.run.location}); fix: rerun it where it is, or "
            "download its files and run `python -m trainer --rerun RUN_DIR`"
        )
    given = Path(where.sweep)
    folder = given.parent if given.suffix == ".db" else given
    root, name = (folder.parent, folder.name) if folder.is_dir() else (where.root, source.sweep.name)
    argv = [sys.executable, "-m", "localsweep", "rerun", name, source.run.run_id, "--root", str(root)]
    return argv + (["--storage", where.storage] if where.storage else [])


def verify(source: Source, where: Where, out: Path) -> dict[str, Any]:
    """Rerun the source's run into a new folder in ``out`` and return the report's ``reproduced`` entry: ``status``
    (``identical``, ``differs`` or ``not checked``), the line the report shows, the rerun's printed lines, its
    command and folder."""
    argv = command(source, where)
    if isinstance(argv, str):
        return not_checked(argv)
    folder = out / f"rerun-{time.strftime('%Y%m%d-%H%M%S')}"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run([*argv, "--out", str(folder)], env=env, capture_output=True, text=True, check=False)
    shown = " ".join(argv[1:])
    result = repeat.read_result(folder)
    if done.returncode == reproduce.CANNOT_RERUN or result is None:
        reason = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return not_checked(f"`{shown}` could not rerun it: {reason}") | {"command": shown}
    status, failure, story = str(result["status"]), result.get("failure"), result.get("story")
    facts = [f"{f['name']}: {f['then']} -> {f['now']}" for f in result.get("facts", [])]
    line = status + (f": the rerun failed: {failure}" if failure else "")
    line += f"; recorded facts that differ now: {'; '.join(facts) or 'none'}"
    line += (f"; per-row story: {story}" if story else "") + f" (rerun in {folder})"
    lines = list(result.get("lines", []))
    return {"status": status, "line": line, "lines": lines, "command": shown, "folder": str(folder)}
