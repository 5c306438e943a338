"""What every execution mode shares: a trial's outcome and the slot interface the controller drives."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from localsweep.handoff import TrialTask

_TAIL_BYTES = 4000


@dataclass(frozen=True)
class Outcome:
    """How a trial's process ended: exit code (None if unknown), error text for a crash, whether it was stopped."""

    exit_code: int | None
    error: str | None
    stopped: bool


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
        """Ask the running trial to end early (hyperband)."""

    def time_out(self) -> None:
        """End a trial that ran past its time limit; :meth:`poll` then reports how its process ended."""

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


def log_tail(path: Path) -> str:
    """The last few KB of a trial's output (what a crash report needs), or a note if there is none."""
    try:
        data = path.read_bytes()
    except OSError:
        return f"(no output: {path} is missing)"
    return data[-_TAIL_BYTES:].decode(errors="replace").strip() or "(the trial wrote no output)"
