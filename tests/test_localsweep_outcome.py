"""How a trial ended (localsweep/outcome/decide.py): every combination of what the process did and what its run says."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from localsweep.core.runlog import RunRecord
from localsweep.core.trial import CRASHED, FINISHED, STOPPED
from localsweep.outcome.decide import Ending, Verdict, decide
from localsweep.workers.slot import Outcome

# The run as found on disk: none, still without an exit record, finished with exit 0, finished with exit 1.
RUNS = {
    "no run": None,
    "unfinished": RunRecord("r", Path("/w/offline-run-1-r"), {}, [], {}, exit_code=None),
    "exit 0": RunRecord("r", Path("/w/offline-run-1-r"), {}, [], {}, exit_code=0),
    "exit 143": RunRecord("r", Path("/w/offline-run-1-r"), {}, [], {}, exit_code=143),
}
# How the process ended: not waited for (the controller died), exit 0, a crash, refused arguments, a signal.
PROCESSES = {
    "unknown": None,
    "0": Outcome(0, None),
    "1": Outcome(1, "exit code 1\nTraceback: boom"),
    "2": Outcome(2, "exit code 2\nerror: unrecognized arguments: --lr=1"),
    "-9": Outcome(-9, "killed by signal SIGKILL (exit code -9)\n"),
}
FLAGS = ["stop_requested", "timed_out", "interrupted"]


def ending(process: str, flags: tuple[str, ...]) -> Ending:
    return Ending(PROCESSES[process], timeout_s=3.0, output_tail="last words", **dict.fromkeys(flags, True))


CASES = [
    (run, process, flags)
    for run, process in itertools.product(RUNS, PROCESSES)
    for n in range(len(FLAGS) + 1)
    for flags in itertools.combinations(FLAGS, n)
]


@pytest.mark.parametrize(("run", "process", "flags"), CASES)
def test_decide_follows_the_one_rule_in_every_case(run: str, process: str, flags: tuple[str, ...]) -> None:
    verdict = decide(ending(process, flags), RUNS[run])
    if run == "exit 0":  # a finished wandb run is a finished trial, whatever else happened
        assert verdict == Verdict(FINISHED)
    elif "stop_requested" in flags:  # early termination: real metrics, not a crash
        assert verdict == Verdict(STOPPED)
    elif "timed_out" in flags:
        assert verdict.state == CRASHED
        assert not verdict.requeue
        assert not verdict.refused
        assert (verdict.error or "").startswith("timed out after 3 s (--trial-timeout), then ended: ")
        assert (verdict.error or "").endswith("last words")
    elif "interrupted" in flags:  # only trials with no finished run are requeued
        assert verdict.state == CRASHED
        assert verdict.requeue
        assert not verdict.refused
        assert (verdict.error or "").startswith("interrupted: the sweep stopped before this trial's wandb run")
    else:
        assert verdict.state == CRASHED
        assert not verdict.requeue
        assert verdict.refused is (process == "2")
        assert verdict.error


@pytest.mark.parametrize(
    ("run", "error"),
    [
        ("no run", "the trial exited 0 but it never started a wandb run"),
        ("unfinished", "the trial exited 0 but its wandb run (offline-run-1-r) has no exit record"),
        ("exit 143", "the trial exited 0 but its wandb run ended with exit code 143"),
    ],
)
def test_decide_says_why_a_trial_that_exited_0_crashed(run: str, error: str) -> None:
    assert decide(Ending(Outcome(0, None)), RUNS[run]) == Verdict(CRASHED, error)


def test_decide_keeps_the_processes_own_error_and_flags_refused_arguments() -> None:
    assert decide(Ending(PROCESSES["1"]), None) == Verdict(CRASHED, "exit code 1\nTraceback: boom")
    refused = decide(Ending(PROCESSES["2"]), None)
    assert refused.refused
    assert "unrecognized arguments" in (refused.error or "")
    assert decide(Ending(Outcome(-9, None)), None).error == "killed by signal SIGKILL (exit code -9)"
