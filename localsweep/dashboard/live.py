"""The history a running trial has logged so far, from its ``live/<run id>.jsonl`` (``storage/layout.py``).

Offline, wandb writes a run's record log in whole 32 KiB blocks, so the record says nothing until the trial ends;
every trial also mirrors each ``wandb.log`` call to that file as one JSON line (``localsweep/workers/inject``).
The file is on the host that runs the trial: the dashboard reads it when it is on that host. Each read takes only
the bytes appended since the last one, so following a trial costs the same at its first epoch and its thousandth.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class LiveHistory:
    """One trial's mirrored ``wandb.log`` calls, read incrementally: one row per step (several calls for one step
    merge, as wandb merges them), a half-written last line left for the next read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._partial = b""
        self._steps: dict[int, dict[str, Any]] = {}

    def read(self) -> list[dict[str, Any]] | None:
        """The whole history when something was appended since the last read, else None (nothing new, no file)."""
        try:
            with self.path.open("rb") as file:
                file.seek(self._offset)
                appended = file.read()
        except OSError:
            return None
        if not appended:
            return None
        self._offset += len(appended)
        *lines, self._partial = (self._partial + appended).split(b"\n")
        changed = False
        for line in lines:
            try:
                entry = json.loads(line)
                step = int(entry["_step"])
            except (ValueError, KeyError, TypeError):
                continue
            self._steps.setdefault(step, {}).update(entry)
            changed = True
        return [self._steps[s] for s in sorted(self._steps)] if changed else None
