"""Entry point of ``python -m localsweep``."""

import signal
import sys

from localsweep.run.signals import INTERRUPTED_BASE, leave_if_stopped, stop_early, stopped_early


def _main() -> int:
    # Ctrl-C or SIGTERM before the controller takes over the signals (while importing, validating, creating the
    # store, which is atomic): leave quietly with 128 + signal, as the controller does.
    signal.signal(signal.SIGINT, stop_early)
    signal.signal(signal.SIGTERM, stop_early)
    from localsweep.cli.main import main

    leave_if_stopped()
    code = main()
    early = stopped_early()  # a signal during an import that nothing after it acted on
    return code if early is None or code >= INTERRUPTED_BASE else INTERRUPTED_BASE + early


if __name__ == "__main__":
    sys.exit(_main())
