"""What both rerun commands do around the run itself: the settings a rerun takes from the record, the per-row story
when it differs, the printed verdict and the result file (``rerun.json``) the report reads for ``--verify``.

Standard library only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from contract.reproduce import THREAD_VARS, CannotRerunError, Verdict

RESULT_FILE = "rerun.json"
"""The verdict as JSON, in the rerun's folder."""
STORY_DIR = "compare"
"""Where the per-row story (``python -m analysis compare``) is written, in the rerun's folder."""
_ROOT = Path(__file__).resolve().parents[1]
STORY_TIMEOUT_S = 600


def scratch(folder: Path) -> Path:
    """The rerun's folder, new and empty (made here), as an absolute path.

    Raises
    ------
    CannotRerunError
        When it exists and is not an empty folder, or cannot be made.
    """
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise CannotRerunError(f"--out must be a new or empty folder, but {folder} is not; fix: choose another")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CannotRerunError(f"the rerun's folder {folder} cannot be made: {error}") from None
    return folder.resolve()


def thread_settings(provenance: Mapping[str, Any] | None) -> dict[str, str | None] | None:
    """The thread variables a run recorded (None: unset then), or None when it recorded none.

    >>> thread_settings({"threads": {"OMP_NUM_THREADS": "1"}})["OMP_NUM_THREADS"], thread_settings({})
    ('1', None)
    """
    threads = (provenance or {}).get("threads")
    if not isinstance(threads, Mapping):
        return None
    return {var: None if threads.get(var) is None else str(threads[var]) for var in THREAD_VARS}


def set_threads(environ: MutableMapping[str, str], threads: Mapping[str, str | None]) -> None:
    """Give ``environ`` exactly the recorded thread settings: set what was set, unset what was not.

    >>> env = {"OMP_NUM_THREADS": "4", "MKL_NUM_THREADS": "4"}
    >>> set_threads(env, {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": None})
    >>> env
    {'OMP_NUM_THREADS': '1'}
    """
    for var, value in threads.items():
        if value is None:
            environ.pop(var, None)
        else:
            environ[var] = value


def story(then: Path, now: Path, out: Path) -> tuple[Path | None, list[str]]:
    """The per-row story of the rerun: ``python -m analysis compare THEN NOW`` (McNemar, the paired bootstrap, the
    rows that changed) written into ``out/compare``; its report's path (None if it could not be written) and what
    to print about it."""
    target = out / STORY_DIR
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "analysis", "compare", str(then), str(now), "--out", str(target)]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=STORY_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        return None, [f"per-row story: not written ({type(error).__name__}: {error})"]
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return None, [f"per-row story: not written (python -m analysis compare: {reason})"]
    lines = [f"per-row story (original A vs rerun B): {target / 'report.html'}"]
    lines += [f"  {line}" for line in done.stdout.splitlines() if line.startswith(("McNemar", "paired bootstrap"))]
    try:
        summary = json.loads((target / "report.json").read_text(encoding="utf-8"))
        lines.append(f"  rows whose prediction changed: {summary['disagreements']['rows']} of {summary['rows']}")
    except (OSError, ValueError, KeyError):
        pass
    return target / "report.html", lines


def conclude(verdict: Verdict, out: Path, then: Path | None, now: Path | None, context: Sequence[str] = ()) -> int:
    """Print the verdict (``identical`` or ``differs`` first), write the per-row story when the predictions differ,
    write ``rerun.json`` into ``out``; returns the exit code."""
    lines = verdict.lines()
    report = None
    if not verdict.identical and then is not None and now is not None and then.is_file() and now.is_file():
        report, said = story(then, now, out)
        lines += said
    lines += list(context)
    print("\n".join(lines), flush=True)
    result = verdict.to_json() | {"story": None if report is None else str(report), "context": list(context)}
    (out / RESULT_FILE).write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    return verdict.exit_code


def read_result(out: Path) -> dict[str, Any] | None:
    """The verdict a rerun wrote into ``out``, or None."""
    try:
        return dict(json.loads((Path(out) / RESULT_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None
