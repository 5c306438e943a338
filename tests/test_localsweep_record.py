"""Reading a trial's run once its process ended: waited for only where a run exists to be finished."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from localsweep.outcome import record
from localsweep.storage.layout import SweepLayout


def test_a_trial_that_never_made_a_run_dir_is_read_at_once_not_waited_for(tmp_path: Path, monkeypatch) -> None:
    # A program that failed before wandb.init (a typo'd flag, an import error) has no run directory, and never will:
    # wandb.init creates it in the trial's own process. Waiting 5 s for its exit record held up the whole agent.
    def no_sleep(seconds: float) -> None:
        raise AssertionError(f"waited {seconds} s for a run that cannot appear")

    monkeypatch.setattr(record.time, "sleep", no_sleep)
    assert record.read_run(SweepLayout(tmp_path), "abcd1234", wait=True) is None


def test_a_run_dir_without_its_exit_record_is_waited_for_until_the_limit(tmp_path: Path, monkeypatch) -> None:
    layout = SweepLayout(tmp_path)
    layout.run_dir("abcd1234", "20261207_000000").mkdir(parents=True)  # init ran; the log is not on disk yet
    clock = itertools.count(step=0.5)
    slept: list[float] = []
    monkeypatch.setattr(record.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(record.time, "sleep", slept.append)
    assert record.read_run(layout, "abcd1234", wait=True) is None
    assert len(slept) == pytest.approx(record.EXIT_RECORD_WAIT_S / 0.5, abs=1)
