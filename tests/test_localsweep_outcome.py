"""How a trial ended (localsweep/outcome/decide.py): every combination of what the process did and what its run says."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from localsweep.core.runlog import RunRecord
from localsweep.core.trial import CRASHED, FINISHED, STOPPED
from localsweep.outcome.decide import Ending, Verdict, decide
from localsweep.outcome.explain import headline
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
    return Ending(
        PROCESSES[process],
        stop_requested="stop_requested" in flags,
        timed_out="timed_out" in flags,
        interrupted="interrupted" in flags,
        timeout_s=3.0,
        output_tail="last words",
    )


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
        assert verdict.state == FINISHED
        assert not verdict.requeue
        assert not verdict.refused
        assert not verdict.unscored
        # A process that failed by itself afterwards is noted beside the result; one the sweep stopped is not.
        failed_alone = process in ("1", "2", "-9") and not flags
        assert (verdict.error is not None) is failed_alone
        if failed_alone:
            assert (verdict.error or "").startswith("after its wandb run finished, its process failed: ")
            said = PROCESSES[process]
            assert said is not None
            assert (verdict.error or "").endswith((said.error or "").rstrip())
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


DONE = RUNS["exit 0"]


def test_a_process_that_fails_after_its_run_finished_stays_finished_with_its_exit_and_last_words() -> None:
    said = Outcome(1, "exit code 1\nwandb: Synced 5 W&B file(s)\ncheckpoint upload failed")
    verdict = decide(Ending(said), DONE)
    assert verdict == Verdict(FINISHED, "after its wandb run finished, its process failed: exit code 1\n"
                                        "wandb: Synced 5 W&B file(s)\ncheckpoint upload failed")  # fmt: skip
    assert not verdict.imputed
    assert (
        headline(verdict.error)
        == "checkpoint upload failed (after its wandb run finished, its process failed: exit code 1)"
    )
    # Stopped by the sweep after its run finished: its exit code is the sweep's doing, not a failure.
    assert decide(Ending(Outcome(-15, "killed by signal SIGTERM (exit code -15)"), interrupted=True), DONE) == Verdict(
        FINISHED
    )


@pytest.mark.parametrize(("state", "run"), [(FINISHED, DONE), (STOPPED, RUNS["unfinished"])])
def test_a_metric_logged_only_non_finite_leaves_the_trial_unscored_with_the_reason(state, run) -> None:
    diverged = "loss was logged only as nan (never a finite number: the run diverged)"
    verdict = decide(Ending(Outcome(0, None), stop_requested=True, unscored=diverged), run)
    assert verdict == Verdict(state, f"unscored: {diverged}", unscored=True)
    assert verdict.imputed  # W&B's bayes imputes a run with no finite metric, as a crashed one
    assert headline(verdict.error) == f"unscored: {diverged}"


def test_a_crash_is_imputed_but_an_interrupted_trial_is_not() -> None:
    assert decide(Ending(PROCESSES["1"]), None).imputed
    assert not decide(Ending(PROCESSES["1"], interrupted=True), None).imputed
    assert not decide(Ending(Outcome(0, None)), DONE).imputed


WANDB_FOOTER = (
    "\x1b[1;34mwandb\x1b[0m: \n\x1b[1;34mwandb\x1b[0m: You can sync this run to the cloud by running:\n"
    "\x1b[1;34mwandb\x1b[0m: \x1b[1mwandb sync /s/wandb/offline-run-1-r\x1b[0m\n"
    "\x1b[1;34mwandb\x1b[0m: Find logs at: \x1b[1;35m/s/wandb/offline-run-1-r/logs\x1b[0m"
)
TRACEBACK = (
    'Traceback (most recent call last):\n  File "endings.py", line 22, in main\n    raise RuntimeError("boom")\n'
    "RuntimeError: boom\n"
)


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (f"exit code 1\n{TRACEBACK}{WANDB_FOOTER}", "RuntimeError: boom (exit code 1)"),
        (f"exit code 1\n{WANDB_FOOTER}\nmy own message", "my own message (exit code 1)"),
        (f"exit code 3\n{WANDB_FOOTER}", "exit code 3"),
        (
            "timed out after 2 s (--trial-timeout), then ended: exit code -15\nwandb: Run data is saved locally",
            "timed out after 2 s (--trial-timeout), then ended: exit code -15",
        ),
        (
            f"the worker process died (killed by signal SIGKILL (exit code -9))\n{TRACEBACK}",
            "RuntimeError: boom (the worker process died (killed by signal SIGKILL (exit code -9)))",
        ),
        (
            "interrupted: the sweep stopped (it never started a wandb run)",
            "interrupted: the sweep stopped (it never started a wandb run)",
        ),
    ],
)
def test_headline_is_the_cause_never_wandbs_footer_or_escape_codes(error: str, cause: str) -> None:
    assert headline(error) == cause
