"""The dashboard at 100, 1,000 and 10,000 trials: how long a sweep takes to open, and what one update costs.

Each sweep is written straight into a real store (SQLite, or PostgreSQL started for the run): trials that ended
with 10 epochs of history (3 metrics) and 4 running ones, whose agent pushes one more epoch per update, as an
agent of an early-terminated sweep does. Measured:

- in process, the dashboard's own work: the first read of the sweep (every trial), the snapshot a page gets, and
  one poll after one trial changed (what each update costs) and after nothing changed;
- through the real server (``python -m localsweep dashboard`` on a free port): the page's snapshot over its event
  stream, the time from a write to the store to the page's receiving it (the poll interval, 0.5 s, included),
  and, with ``--browser``, the page opened in chromium until it shows the trial table (from navigation start:
  the page, its scripts, the snapshot, its parsing and the table drawn).

    .venv/bin/python bench/bench_dashboard.py                                 # SQLite, 100 / 1,000 / 10,000
    .venv/bin/python bench/bench_dashboard.py --backend postgresql --browser
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from localsweep.dashboard.feed import Feed  # noqa: E402
from localsweep.storage.database import open_database  # noqa: E402
from localsweep.storage.store import AgentInfo, SweepStore  # noqa: E402
from localsweep.storage.view import Location, SweepView  # noqa: E402
from tests.postgres_server import backend_storage  # noqa: E402

RUNNING = 4
EPOCHS = 10
CONFIG = {
    "method": "random",
    "metric": {"name": "val_accuracy", "goal": "maximize"},
    "parameters": {
        "learning_rate": {"distribution": "log_uniform_values", "min": 1.0e-4, "max": 1.0e-1},
        "units": {"values": [32, 64, 128, 256]},
        "dropout_rate": {"min": 0.0, "max": 0.5},
        "optimizer": {"values": ["adam", "sgd"]},
    },
}


def history(i: int, epochs: int) -> list[dict[str, Any]]:
    top = 0.9 + (i % 97) / 1000
    return [{"_step": e, "epoch": e, "val_accuracy": top - 0.3 / (e + 1), "loss": 1 / (e + 1)} for e in range(epochs)]


def make_sweep(root: Path, storage: str | None, size: int) -> tuple[SweepStore, AgentInfo]:
    """A sweep of ``size`` trials, the last :data:`RUNNING` of them running (their agent: the one returned)."""
    name = f"bench{size}"
    store = SweepStore.create(root / name, name=name, sweep_id=name, config=CONFIG, source="bench", settings={},
                              storage=storage)  # fmt: skip
    now = time.time()
    agent = AgentInfo("bench-agent", "bench-host", os.getpid(), None, ".", now, now, RUNNING, 0, None)
    store.seat(agent).join()
    rows = []
    for i in range(1, size + 1):
        running = i > size - RUNNING
        params = {"learning_rate": {"value": 10 ** -(1 + i % 3)}, "units": {"value": [32, 64, 128, 256][i % 4]},
                  "dropout_rate": {"value": (i % 5) / 10}, "optimizer": {"value": ["adam", "sgd"][i % 2]}}  # fmt: skip
        steps = history(i, 1 if running else EPOCHS)
        summary = {} if running else steps[-1]
        rows.append((i, f"run{i:06d}", "running" if running else "finished", json.dumps(params), now - 60 + i,
                     None if running else now + i, json.dumps(steps), json.dumps(summary),
                     None if running else steps[-1]["val_accuracy"], "bench-agent", "bench-host", i))  # fmt: skip
    db = open_database(storage, root / name, name)

    def insert(cursor: Any) -> None:
        for row in rows:
            cursor.execute(
                "INSERT INTO trials (number, run_id, state, params, started_at, ended_at, history, summary, "
                "metric_value, agent, host, rev) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        cursor.execute("UPDATE meta SET value = ? WHERE key = 'rev'", (str(size),))

    db.transaction(insert)
    db.close()
    return store, agent


def push_epoch(store: SweepStore, agent: AgentInfo, size: int, k: int) -> str:
    """One running trial logs one more epoch (its agent pushes its history); returns its run id."""
    i = size - RUNNING + 1 + k % RUNNING
    run_id = f"run{i:06d}"
    store.seat(agent).push_history(run_id, history(i, 2 + k // RUNNING))
    return run_id


def in_process(store: SweepStore, agent: AgentInfo, location: Location, size: int, updates: int) -> dict[str, Any]:
    """The dashboard's own work, without HTTP: first read, snapshot, a poll after one change and after none."""
    start = time.perf_counter()
    feed = Feed(SweepView.connect(location))
    feed.poll()
    first_read = time.perf_counter() - start
    events: list[str] = []
    start = time.perf_counter()
    snapshot = feed.subscribe(events.append)
    snapshot_s = time.perf_counter() - start
    changed, idle = [], []
    for k in range(updates):
        push_epoch(store, agent, size, k)
        start = time.perf_counter()
        feed.poll()
        changed.append(time.perf_counter() - start)
        start = time.perf_counter()
        feed.poll()
        idle.append(time.perf_counter() - start)
    deltas = [len(e) for e in events if '"rows"' in e]
    feed.view.close()
    return {
        "first_read_s": first_read,
        "snapshot_s": snapshot_s,
        "snapshot_bytes": len(snapshot),
        "poll_after_one_change_ms": 1000 * statistics.median(changed),
        "poll_after_no_change_ms": 1000 * statistics.median(idle),
        "delta_bytes": statistics.median(deltas) if deltas else 0,
    }


def through_server(
    store: SweepStore, agent: AgentInfo, root: Path, storage: str | None, size: int, updates: int, browser: bool
) -> dict[str, Any]:
    """The real server: the page's snapshot over its event stream, write-to-page latency, the browser's open."""
    import httpx

    from tests.dashboard_server import dashboard

    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    args = ["--root", str(root), *(["--storage", storage] if storage else []), store.name]
    found: dict[str, Any] = {}
    with dashboard(env, *args) as served, httpx.Client(timeout=60) as client:
        start = time.perf_counter()
        with client.stream("GET", f"{served.url}api/sweeps/{store.name}/events") as stream:
            lines = stream.iter_lines()
            next(line for line in lines if line.startswith("data:"))
            found["open_over_http_s"] = time.perf_counter() - start
            latencies = []
            for k in range(updates):
                wrote = time.perf_counter()
                run_id = push_epoch(store, agent, size, 100 + k)
                next(line for line in lines if line.startswith("data:") and run_id in line)
                latencies.append(time.perf_counter() - wrote)
        found["write_to_page_median_s"] = statistics.median(latencies)
        found["write_to_page_max_s"] = max(latencies)
        if browser:
            found["browser_open_s"] = open_in_browser(f"{served.url}#/sweep/{store.name}", store.name)
    return found


def open_in_browser(url: str, name: str) -> float:
    """Seconds from navigating to the page until it shows the sweep's trial table (the page marks that moment:
    ``performance.mark``), with a cold browser cache; the best of 3."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, FLAGS

    shown = f"shown sweep:{name}:"
    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        for _ in range(3):
            context = browser.new_context(viewport={"width": 1300, "height": 900})
            page = context.new_page()
            page.goto(url)
            page.wait_for_function(f"performance.getEntriesByName({shown!r}).length > 0", timeout=60_000)
            times.append(page.evaluate(f"performance.getEntriesByName({shown!r})[0].startTime") / 1000)
            context.close()
        browser.close()
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--updates", type=int, default=20, help="updates measured per size")
    parser.add_argument("--browser", action="store_true", help="also open the page in chromium (playwright)")
    args = parser.parse_args()
    os.environ.setdefault("WANDB_MODE", "disabled")
    results = []
    with backend_storage(args.backend) as url, tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            store, agent = make_sweep(Path(tmp), url, size)
            location = Location(store.name, Path(tmp), url)
            row = {"backend": args.backend, "trials": size}
            row |= in_process(store, agent, location, size, args.updates)
            row |= through_server(store, agent, Path(tmp), url, size, args.updates, args.browser)
            results.append(row)
            print(json.dumps(row), flush=True)
            store.close()
    print(f"\n{'':<34}" + "".join(f"{r['trials']:>12,}" for r in results))
    for key in [k for k in results[0] if k not in ("backend", "trials")]:
        print(f"{key:<34}" + "".join(f"{r[key]:>12.4g}" for r in results))


if __name__ == "__main__":
    main()
