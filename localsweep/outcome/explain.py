"""A trial's recorded error in one line for a person: the cause, not the last line of its output.

The error :func:`localsweep.outcome.decide.decide` records starts with one line that says how the trial ended —
the outcome rule's own reason ("timed out after 60 s ...", "interrupted: ...", "unscored: ...") or how its
process ended ("exit code 1", "killed by signal SIGKILL (exit code -9)") — followed, for a process, by the end of
its output. That output usually ends with wandb's footer ("wandb: Find logs at: ..."), coloured with terminal
escape codes, so its last line says nothing about the cause; the cause is the exception line of the last Python
traceback, else the last line the program itself wrote. Pure text handling: no store, no process.
"""

from __future__ import annotations

import re

from localsweep.outcome.decide import FAILED_AFTER_RUN, TIMED_OUT
from localsweep.workers.slot import plain

# How a process ended, as localsweep.workers.slot.describe_exit says it, at the end of the first line.
_PROCESS_ENDED = re.compile(r"(exit code -?\d+|\(exit code -?\d+\))\)?$")
_WIDTH = 240
_NO_OUTPUT = ("(the trial wrote no output)", "(no output: ")  # what localsweep.workers.slot.log_tail says instead


def headline(error: str | None) -> str:
    """The cause of a trial's ending in one line: the outcome rule's reason, or what its process said last (the
    exception line of its last traceback, else its last line of output that is not wandb's) and how it ended.

    >>> headline("exit code 1\\nTraceback (most recent call last):\\n  File 't.py', line 3, in <module>\\n"
    ...          "RuntimeError: boom\\n\\x1b[1;34mwandb\\x1b[0m: Find logs at: wandb/run-1/logs")
    'RuntimeError: boom (exit code 1)'
    >>> headline("timed out after 5 s (--trial-timeout), then ended: exit code -15\\nwandb: Run data is saved")
    'timed out after 5 s (--trial-timeout), then ended: exit code -15'
    >>> headline(None), headline("killed by signal SIGKILL (exit code -9)\\n(the trial wrote no output)")
    ('', 'killed by signal SIGKILL (exit code -9)')
    """
    lines = [line.strip() for line in plain(error or "").splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    head, output = lines[0], lines[1:]
    said = None
    if _PROCESS_ENDED.search(head) and not head.startswith(TIMED_OUT):
        said = _exception(plain(error or "")) or _last_words(output)
    text = f"{said} ({head})" if said else head
    return text if len(text) <= _WIDTH else text[: _WIDTH - 3] + "..."


def _exception(text: str) -> str | None:
    """The exception line of the last traceback in ``text``: the first line after it that is not indented."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip().startswith("Traceback (most recent call last):")]
    if not starts:
        return None
    for line in lines[starts[-1] + 1 :]:
        if line.strip() and not line[0].isspace() and not _is_wandb(line):
            return line.strip()
    return None


def _last_words(output: list[str]) -> str | None:
    said = [line for line in output if not _is_wandb(line) and not line.startswith(_NO_OUTPUT)]
    return said[-1] if said else None


def _is_wandb(line: str) -> bool:
    return line.startswith("wandb:")


def failed_after_run(error: str | None) -> bool:
    """Whether a recorded error says that the trial's process failed by itself after its wandb run finished.

    >>> failed_after_run("unscored: x\\n" + FAILED_AFTER_RUN + "exit code 1"), failed_after_run("exit code 1")
    (True, False)
    """
    return any(line.startswith(FAILED_AFTER_RUN) for line in (error or "").splitlines())
