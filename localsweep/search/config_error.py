"""The error of a sweep configuration that cannot run, apart from the checks that raise it (which import W&B's
engine): a command that only reads a sweep can catch it without that import."""

from __future__ import annotations


class SweepConfigError(ValueError):
    """A sweep configuration that cannot run; ``violations`` holds every problem found, one per line."""

    def __init__(self, source: str, violations: list[str]) -> None:
        self.violations = violations
        lines = "\n".join(f"  - {v}" for v in violations)
        super().__init__(f"{source}: {len(violations)} problem(s), nothing was run:\n{lines}")
