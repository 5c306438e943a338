"""The dashboard's server side without a browser: what a page is handed (a snapshot, then only what changed), the
live history of a running trial read from its file, the Pareto front kept up to date, the parameter importance,
a trial's page, and that reading a sweep writes nothing (``localsweep/dashboard``)."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from localsweep.core import pareto
from localsweep.core.trial import FINISHED
from localsweep.dashboard.detail import detail, log_tail
from localsweep.dashboard.feed import Feed
from localsweep.dashboard.importance import importances
from localsweep.storage import lease
from localsweep.storage.store import AgentInfo, SweepStore
from localsweep.storage.view import SweepView, default_storage
from tests.trials import start_trial

CONFIG: dict[str, Any] = {
    "method": "random",
    "metric": {"name": "score", "goal": "maximize"},
    "parameters": {"x": {"min": 0, "max": 1}},
}


def new_store(directory: Path, config: dict[str, Any] = CONFIG) -> SweepStore:
    store = SweepStore.create(
        directory, name=directory.name, sweep_id="s1", config=config, source="t.yaml", settings={},
        storage=default_storage(),
    )  # fmt: skip
    store.acquire_lease()
    return store


def agent_of(run_id: str) -> AgentInfo:
    """The agent :func:`tests.trials.start_trial` made take ``run_id``."""
    now = time.time()
    return AgentInfo(f"test-{run_id}", lease.hostname(), os.getpid(), None, ".", now, now, 1, 0, None)


def finish(store: SweepStore, run_id: str, summary: dict[str, float], history: list[dict[str, Any]]) -> None:
    """Record ``run_id`` finished, its ``score`` (if any) its metric."""
    store.finish_trial(
        run_id, state=FINISHED, requeued=False, exit_code=0, error=None, run_dir=None, history=history,
        summary=summary, artifacts=[], metric_value=summary.get("score"), metric_imputed=False,
    )  # fmt: skip


def follow(directory: Path) -> tuple[Feed, list[dict[str, Any]]]:
    """A feed of the sweep in ``directory``, read once, and the events an open page gets (its snapshot first)."""
    feed = Feed(SweepView.open(directory))
    feed.poll()
    events: list[dict[str, Any]] = []
    events.append(json.loads(feed.subscribe(lambda text: events.append(json.loads(text)))))
    return feed, events


def test_feed_hands_a_page_its_snapshot_then_only_the_trials_that_changed(tmp_path):
    store = new_store(tmp_path / "s")
    for i in range(1, 4):
        start_trial(store, f"r{i}", {"x": {"value": i / 10}})
    feed, events = follow(tmp_path / "s")
    assert [e["kind"] for e in events] == ["snapshot"]
    assert [r["run_id"] for r in events[0]["rows"]] == ["r1", "r2", "r3"]
    assert events[0]["state"]["counts"] == {"running": 3}

    store.seat(agent_of("r2")).push_history("r2", [{"_step": 0, "score": 0.5}])
    feed.poll()
    feed.poll()  # nothing changed since: nothing sent
    assert len(events) == 2
    assert [r["run_id"] for r in events[1]["rows"]] == ["r2"]
    assert events[1]["rows"][0]["curves"] == {"score": [0.5]}
    assert events[1]["rows"][0]["epochs"] == 1

    finish(store, "r3", {"score": 0.9}, [{"_step": 0, "score": 0.9}])
    feed.poll()
    assert [r["run_id"] for r in events[2]["rows"]] == ["r3"]
    assert events[2]["state"]["best"] == {"number": 3, "run_id": "r3", "value": 0.9}
    assert events[2]["state"]["counts"] == {"running": 2, "finished": 1}


def test_feed_reads_a_running_trials_epochs_from_its_live_file_as_they_are_appended(tmp_path):
    store = new_store(tmp_path / "s")
    start_trial(store, "r1", {"x": {"value": 0.1}})
    feed, events = follow(tmp_path / "s")
    live = store.layout.live_path("r1")
    live.parent.mkdir(parents=True)
    live.write_text('{"_step": 0, "score": 0.1}\n{"_step": 1, "sco')  # the second line is being written
    feed.poll()
    assert events[-1]["rows"][0]["curves"] == {"score": [0.1]}
    with live.open("a") as file:
        file.write('re": 0.2}\n{"_step": 1, "loss": 3.0}\n')  # two calls for one step merge
    feed.poll()
    assert events[-1]["rows"][0]["curves"] == {"score": [0.1, 0.2]}
    _, history = feed.trial("r1")
    assert history == [{"_step": 0, "score": 0.1}, {"_step": 1, "score": 0.2, "loss": 3.0}]
    feed.poll()
    assert len(events) == 3  # nothing appended: nothing sent


@pytest.mark.sqlite_only
def test_reading_a_sweep_writes_nothing_and_takes_no_lease(tmp_path):
    store = new_store(tmp_path / "s")
    start_trial(store, "r1", {"x": {"value": 0.1}})
    finish(store, "r1", {"score": 0.5}, [{"_step": 0, "score": 0.5}])
    store.release_lease()
    store.close()
    files = sorted((tmp_path / "s").glob("sweep.db*"))
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    feed, _ = follow(tmp_path / "s")
    for _ in range(3):
        feed.poll()
    importances(CONFIG, "maximize", feed.scored_trials()[1])
    feed.view.close()
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    assert after == before
    assert SweepView.open(tmp_path / "s").controller() == (None, None)


def test_pareto_front_kept_as_trials_end_is_the_front_of_all_of_them(tmp_path):
    config = {
        "method": "custom",
        "metrics": [{"name": "acc", "goal": "maximize"}, {"name": "size", "goal": "minimize"}],
        "parameters": {"x": {"min": 0, "max": 1}},
    }
    store = new_store(tmp_path / "s", config)
    feed, events = follow(tmp_path / "s")
    points = [(0.9, 100.0), (0.8, 10.0), (0.7, 50.0), (0.95, 1000.0), (0.8, 10.0), (0.99, 5.0)]
    for i, (acc, size) in enumerate(points, start=1):
        start_trial(store, f"r{i}", {"x": {"value": i / 10}})
        store.finish_trial(
            f"r{i}", state=FINISHED, requeued=False, exit_code=0, error=None, run_dir=None, history=[],
            summary={"acc": acc, "size": size}, artifacts=[], metric_value=acc, metric_imputed=False,
        )  # fmt: skip
        feed.poll()
        expected = [t.run_id for t in pareto.front(config, store.trials())]
        fronts = [e["front"] for e in events if e.get("front") is not None]
        assert fronts[-1] == expected, i
    assert fronts[-1] == ["r6"]


def test_importance_ranks_the_parameter_that_drives_the_metric(tmp_path):
    store = new_store(
        tmp_path / "s", {**CONFIG, "parameters": {"x": {"min": 0.0, "max": 1.0}, "y": {"values": [1, 2]}}}
    )
    for i in range(12):
        x, y = (i % 6) / 6, 1 + i % 2
        start_trial(store, f"r{i}", {"x": {"value": x}, "y": {"value": y}})
        finish(store, f"r{i}", {"score": 10 * x + 0.01 * y}, [])
    shares = importances(store.config, "maximize", store.trials())
    assert list(shares["importances"]) == ["x", "y"]
    assert shares["importances"]["x"] > 0.9
    assert importances(store.config, "maximize", store.trials()[:1])["note"].startswith("needs 2 scored trials")


def test_trial_page_has_the_log_tail_whole_lines_and_the_report_commands(tmp_path):
    store = new_store(tmp_path / "s")
    start_trial(store, "r1", {"x": {"value": 0.1}})
    finish(store, "r1", {"score": 0.5}, [])
    log = tmp_path / "r1.log"
    log.write_text("".join(f"line {i}\n" for i in range(20000)))
    page = detail(store.trial("r1"), None, log, "s", "r9", tmp_path / "sweeps", "postgresql://u:secret@h/db")
    assert page["log"]["text"].startswith("…line ")
    assert page["log"]["text"].endswith("line 19999\n")
    assert len(page["log"]["text"]) <= 64 * 1024
    assert page["commands"][:2] == [
        'python -m analysis report --sweep s --trial r1 --storage "$LOCALSWEEP_STORAGE"',
        'python -m analysis compare --sweep s r9 r1 --storage "$LOCALSWEEP_STORAGE"',
    ]
    assert "secret" not in json.dumps(page)
    assert log_tail(tmp_path / "none.log", "host-b")["note"].endswith("(the trial ran on host host-b)")
