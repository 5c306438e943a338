"""Entry point of ``python -m localsweep``."""

from localsweep.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
