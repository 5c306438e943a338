"""SIGINT and SIGTERM as flags the agent's loop reads: the first asks it to stop, a second to hurry.

A handler only sets flags: the loop decides what to do at its next pass, so no signal interrupts a store write or
a slot half-started.
"""

from __future__ import annotations

import signal
from types import FrameType, TracebackType
from typing import Any

INTERRUPTED_BASE = 128  # a process ended by signal N exits 128 + N (130 for SIGINT, 143 for SIGTERM)


class StopSignals:
    """While entered: SIGINT and SIGTERM are recorded instead of raising (the previous handlers come back on exit)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.hurry = False  # a second signal: end the trials at once
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        self._previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.hurry = self.signum is not None
        self.signum = signum

    @property
    def received(self) -> bool:
        """Whether a stop was asked for."""
        return self.signum is not None

    @property
    def name(self) -> str:
        """The signal's name (``SIGINT``), or ``""`` before one came."""
        return "" if self.signum is None else signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        """What a process stopped by this signal exits with (``128 + N``)."""
        assert self.signum is not None  # for mypy: asked only after a signal came
        return INTERRUPTED_BASE + self.signum
