"""What every execution mode shares: a trial's outcome and the slot interface the controller drives."""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from localsweep.workers.handoff import TrialTask

_TAIL_BYTES = 4000
_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class Outcome:
    """How a trial's process ended: its exit code (negative: the signal that killed it) and, unless it exited 0,
    what it said: a first line saying how it ended (:func:`describe_exit`), then a traceback or the end of its
    output. How the *trial* ended is decided from this and its wandb run record
    (:func:`localsweep.outcome.decide.decide`)."""

    exit_code: int | None
    error: str | None


class Slot(Protocol):
    """One worker: runs one trial at a time."""

    @property
    def busy(self) -> bool:
        """True while a trial runs."""

    @property
    def pid(self) -> int | None:
        """The process running the trial."""

    def start(self, task: TrialTask) -> None:
        """Start a trial."""

    def stop(self) -> None:
        """Ask the running trial to end (early termination, or the sweep stopping); :meth:`poll` kills it if it
        has not ended after the kill delay."""

    def kill(self) -> None:
        """End the running trial now (a hung trial, or a second Ctrl-C); :meth:`poll` then reports how."""

    def poll(self) -> Outcome | None:
        """The outcome once the trial has ended, else None."""

    def close(self) -> None:
        """End any running trial and release the worker."""


def describe_exit(code: int | None) -> str:
    """How a process ended, in words (a negative code is the signal that killed it).

    >>> describe_exit(-9), describe_exit(1)
    ('killed by signal SIGKILL (exit code -9)', 'exit code 1')
    """
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name} (exit code {code})"
        except ValueError:
            pass
    return f"exit code {code}"


def crash_report(code: int | None, path: Path) -> str:
    """The error text of a trial process that did not exit 0: how it ended, then the end of its output."""
    return f"{describe_exit(code)}\n{log_tail(path)}"


def log_tail(path: Path) -> str:
    """The last few KB of a trial's output (what a crash report needs), or a note if there is none."""
    try:
        data = path.read_bytes()
    except OSError:
        return f"(no output: {path} is missing)"
    # Plain text: wandb colours its footer with terminal escape codes even when its output goes to a file.
    return plain(data[-_TAIL_BYTES:].decode(errors="replace")).strip() or "(the trial wrote no output)"


def plain(text: str) -> str:
    """``text`` without terminal escape codes (colours, cursor moves) or other control characters but newlines
    and tabs (a carriage return ends a line, as on a terminal).

    >>> plain("\\x1b[1;34mwandb\\x1b[0m: Find logs at: x\\r\\nok")
    'wandb: Find logs at: x\\nok'
    """
    text = _ESCAPES.sub("", text).replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", text)
