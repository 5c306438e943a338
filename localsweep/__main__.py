"""Entry point of ``python -m localsweep``."""

import signal
import sys
from types import FrameType


def _stopped_early(signum: int, frame: FrameType | None) -> None:
    # Ctrl-C or SIGTERM before the controller takes over the signals (while importing, validating, creating the
    # store, which is atomic): leave quietly with 128 + signal, as the controller does.
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, _stopped_early)
    signal.signal(signal.SIGTERM, _stopped_early)
    from localsweep.cli.main import main

    sys.exit(main())
