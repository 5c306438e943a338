"""Entry point of ``python -m localsweep``."""

import signal
import sys
from types import FrameType

_stopped_by: list[int] = []


def _stopped_early(signum: int, frame: FrameType | None) -> None:
    # Ctrl-C or SIGTERM before the controller takes over the signals (while importing, validating, creating the
    # store, which is atomic): leave quietly with 128 + signal, as the controller does.
    _stopped_by.append(signum)
    raise SystemExit(128 + signum)


def _main() -> int:
    signal.signal(signal.SIGINT, _stopped_early)
    signal.signal(signal.SIGTERM, _stopped_early)
    try:
        from localsweep.cli.main import main

        return main()
    except Exception:
        # The handler's SystemExit can come back as another error: an extension module being initialised when the
        # signal came reports its init as failed (pybind11's "ImportError: initialization failed", as SciPy's FFT
        # module does). The stop is what happened, not that error.
        if _stopped_by:
            return 128 + _stopped_by[0]
        raise


if __name__ == "__main__":
    sys.exit(_main())
