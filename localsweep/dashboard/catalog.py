"""The sweeps a dashboard shows — one, or every sweep under a root or in a database — each followed by a
:class:`~localsweep.dashboard.feed.Feed`, all polled by one thread.

One thread owns every connection (a SQLite connection belongs to the thread that opened it), so the pages'
requests never touch the database: they read what the feeds published. Sweeps created later are found by a
rescan every few seconds.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from typing import Any

from localsweep.dashboard import summary
from localsweep.dashboard.feed import Feed, Push
from localsweep.storage.view import Location, SweepView, find_sweep, sweep_locations

POLL_S = 0.5
"""How often each sweep is asked what changed: a change shows in the page within about this long."""
RESCAN_S = 5.0
"""How often the root (or database) is searched for new sweeps."""


class Catalog:
    """Sweep ``name`` (None: every sweep) under ``root`` or in ``storage`` (a PostgreSQL URL), followed live."""

    def __init__(self, root: Path, storage: str | None, name: str | None = None, poll_s: float = POLL_S) -> None:
        self.root, self.storage, self.name = root, storage, name
        self._poll_s = poll_s
        self._feeds: dict[str, Feed] = {}
        self._failing: dict[str, str] = {}
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._first: Exception | None = None
        self._scanned = False
        self._pages: list[Push] = []
        self._listed: list[dict[str, Any]] = []
        self._thread = threading.Thread(target=self._run, name="dashboard-poll", daemon=True)

    def start(self) -> None:
        """Start polling once the sweeps are found and read.

        Raises
        ------
        FileNotFoundError
            When sweep ``name`` does not exist (the message lists those that do).
        DatabaseUnavailableError
            When ``storage`` cannot be reached.
        """
        if self.name is not None:
            find_sweep(self.name, self.root, self.storage)
        self._thread.start()
        with self._changed:
            self._changed.wait_for(lambda: self._scanned or self._first is not None)
        if self._first is not None:
            raise self._first

    def stop(self) -> None:
        """Stop polling and close every connection."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        try:
            self._scan()
        except Exception as err:  # start() raises it in the caller's thread
            with self._changed:
                self._first = err
                self._changed.notify_all()
            return
        try:
            next_scan = time.monotonic() + RESCAN_S
            while not self._stop.is_set():
                started = time.monotonic()
                if started >= next_scan:
                    next_scan = started + RESCAN_S
                    try:
                        self._scan()
                    except Exception as err:  # the sweeps found so far are still shown
                        _say(f"cannot look for new sweeps: {type(err).__name__}: {err}")
                for feed in self._sorted():
                    self._poll(feed)
                self._publish_list()
                self._stop.wait(max(0.0, self._poll_s - (time.monotonic() - started)))
        finally:
            for feed in self._sorted():
                feed.view.close()

    def _scan(self) -> None:
        names = [self.name] if self.name is not None else [s.name for s in sweep_locations(self.root, self.storage)]
        for name in names:
            if name not in self._feeds:
                feed = Feed(SweepView.connect(Location(name, self.root, self.storage)))
                self._poll(feed)
                with self._changed:
                    self._feeds[name] = feed
        with self._changed:
            self._scanned = True
            self._changed.notify_all()

    def _poll(self, feed: Feed) -> None:
        name = feed.about["name"]
        try:
            feed.poll()
        except Exception as err:  # one unreadable sweep must not stop the others
            why = f"{type(err).__name__}: {err}"
            if self._failing.get(name) != why:  # said once, not every poll
                _say(f"cannot read sweep {name}: {why}")
            self._failing[name] = why
        else:
            if self._failing.pop(name, None) is not None:
                _say(f"reading sweep {name} again")

    def _publish_list(self) -> None:
        listed = self.sweeps()
        before = self._listed
        if len(before) != len(listed) or any(
            a["about"]["name"] != b["about"]["name"] or not summary.same(a["state"], b["state"])
            for a, b in zip(before, listed, strict=True)
        ):
            self._listed = listed
            event = self._event(listed)
            with self._changed:
                pages = list(self._pages)
            for push in pages:
                push(event)

    def _sorted(self) -> list[Feed]:
        with self._changed:
            return sorted(self._feeds.values(), key=lambda f: -float(f.about["created_at"]))

    def sweeps(self) -> list[dict[str, Any]]:
        """Every sweep followed, the newest first: what it is and where it stands."""
        found = []
        for feed in self._sorted():
            with feed.lock:
                found.append({"about": feed.about, "state": feed.state})
        return found

    def feed(self, name: str) -> Feed:
        """The feed of sweep ``name``.

        Raises
        ------
        KeyError
            When no such sweep is followed.
        """
        with self._changed:
            return self._feeds[name]

    def subscribe(self, push: Push) -> str:
        """Register a page that lists the sweeps; returns the list as it is now (JSON text)."""
        with self._changed:
            self._pages.append(push)
        return self._event(self.sweeps())

    def _event(self, listed: list[dict[str, Any]]) -> str:
        """The list as an event; ``only``: the one sweep this dashboard was started for."""
        return json.dumps({"kind": "sweeps", "sweeps": listed, "only": self.name}, allow_nan=False)

    def unsubscribe(self, push: Push) -> None:
        """The page went away."""
        with self._changed:
            if push in self._pages:
                self._pages.remove(push)


def _say(message: str) -> None:
    print(f"dashboard: {message}", file=sys.stderr, flush=True)
