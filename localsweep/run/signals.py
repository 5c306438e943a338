"""SIGINT and SIGTERM as flags the agent's loop reads: the first asks it to stop, a second to hurry.

A handler only sets flags: the loop decides what to do at its next pass, so no signal interrupts a store write or
a slot half-started.
"""

from __future__ import annotations

import signal
from types import FrameType, TracebackType
from typing import Any

INTERRUPTED_BASE = 128  # a process ended by signal N exits 128 + N (130 for SIGINT, 143 for SIGTERM)

_EARLY: list[int] = []


def stop_early(signum: int, frame: FrameType | None) -> None:
    """The handler from the process's first line (``python -m localsweep``) until a :class:`StopSignals` takes over:
    leave with 128 + N at once, except inside an import, where the signal is recorded and acted on when the import is
    done (:func:`leave_if_stopped`, :class:`StopSignals`, the entry point's end).

    An exception raised inside an import is not always seen: the import machinery's own weakref callbacks print it as
    "Exception ignored" and go on (the stop is lost), and an extension module being initialised reports it as its
    own failure (pybind11: "ImportError: initialization failed", as SciPy's FFT module does)."""
    _EARLY.append(signum)
    inside = frame
    while inside is not None:
        if inside.f_code.co_filename.startswith("<frozen importlib"):
            return
        inside = inside.f_back
    raise SystemExit(INTERRUPTED_BASE + signum)


def stopped_early() -> int | None:
    """The first signal :func:`stop_early` recorded in this process (None if none came)."""
    return _EARLY[0] if _EARLY else None


def leave_if_stopped() -> None:
    """Leave with 128 + N now if a signal came during an import (see :func:`stop_early`)."""
    early = stopped_early()
    if early is not None:
        raise SystemExit(INTERRUPTED_BASE + early)


class StopSignals:
    """While entered: SIGINT and SIGTERM are recorded instead of raising (the previous handlers come back on exit)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.hurry = False  # a second signal: end the trials at once
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        self._previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        self.signum = stopped_early()  # one that came during an import, before these handlers: the stop stands
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
