"""What "identical" means, which facts are named when a rerun differs, and when ``--at-commit`` refuses
(``contract/reproduce.py``, ``contract/checkout.py``, ``contract/rerun.py``)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from contract import checkout, reproduce
from contract import rerun as repeat
from contract.objectives import Objective
from contract.reproduce import CannotRerunError, Outcome, judge

NAN = float("nan")
FACTS = {
    "data_sha256": {"x_train": "aa"},
    "code": {"commit": "c1", "dirty": False, "repo": "/src"},
    "packages": {"numpy": "1.26.4"},
    "threads": {"OMP_NUM_THREADS": "1"},
    "workdir": "/src",
}


def test_the_same_outcome_is_identical_and_nan_equals_nan():
    outcome = Outcome("ab", {"val_auroc": NAN, "test/accuracy": 0.9}, 3)
    verdict = judge(outcome, Outcome("ab", {"val_auroc": NAN, "test/accuracy": 0.9}, 3), FACTS, FACTS)
    assert (verdict.status, verdict.exit_code) == ("identical", reproduce.IDENTICAL)
    assert verdict.lines() == [
        "identical",
        "compared predictions SHA-256: ab (same)",
        "compared val_auroc: nan (same)",
        "compared test/accuracy: 0.9 (same)",
        "compared epochs: 3 (same)",
        "recorded facts that differ now: none",
    ]


@pytest.mark.parametrize(
    ("now", "differing"),
    [
        (Outcome("cd", {"acc": 0.5}, 3), "predictions SHA-256"),
        (Outcome("ab", {"acc": 0.5000000000000001}, 3), "acc"),  # one ulp is a difference
        (Outcome("ab", {"acc": 0.5}, 2), "epochs"),
        (Outcome("ab", {"acc": None}, 3), "acc"),  # a metric the rerun no longer logs
        (Outcome(None, {"acc": 0.5}, 3), "predictions SHA-256"),
    ],
)
def test_any_compared_value_that_moves_makes_it_differ(now, differing):
    verdict = judge(Outcome("ab", {"acc": 0.5}, 3), now, FACTS, FACTS)
    assert (verdict.status, verdict.exit_code) == ("differs", reproduce.DIFFERS)
    assert [c.name for c in verdict.checks if not c.same] == [differing]


def test_changed_facts_are_the_reasons_and_where_it_ran_is_not_one():
    now = {
        **FACTS,
        "code": {"commit": "c2", "dirty": False, "repo": "/tmp/worktree"},
        "packages": {"numpy": "2.0.0"},
        "workdir": "/tmp/worktree",
        "python": {"version": "3.11.9"},
    }
    verdict = judge(Outcome("ab", {}, 1), Outcome("cd", {}, 1), FACTS, now)
    assert [f.line() for f in verdict.facts] == ["code.commit: c1 -> c2", "packages.numpy: 1.26.4 -> 2.0.0"]
    assert verdict.unrecorded == ("python",)
    assert "recorded facts that differ now (the likely reasons):" in verdict.lines()
    assert "not recorded by the original run (it predates them): python" in verdict.lines()


def test_numbers_that_differ_with_no_changed_fact_point_at_something_unrecorded():
    lines = judge(Outcome("ab", {}, 1), Outcome("cd", {}, 1), FACTS, FACTS).lines()
    assert any("GPU kernel that is not deterministic" in line for line in lines)


def test_a_rerun_that_failed_differs_and_says_why():
    verdict = judge(Outcome("ab", {}, 1), None, FACTS, None, failure="exit code 1: boom")
    assert verdict.status == "differs"
    assert verdict.lines()[:2] == ["differs", "the rerun failed: exit code 1: boom"]
    assert "packages.numpy: 1.26.4 -> (not recorded by the rerun)" in [f.line() for f in verdict.facts]


def test_outcome_reads_objectives_test_metrics_and_epochs_from_a_record(tmp_path):
    table = tmp_path / "predictions.csv"
    table.write_text("index,y_true,y_pred,prob_0,prob_1\n0,0,0,0.9,0.1\n")
    history: list[dict[str, float]] = [
        {"model_parameters": 10},
        {"epoch": 1, "val_loss": 0.7},
        {"epoch": 2, "val_loss": 0.5},
    ]
    summary = {"val_loss": {"min": 0.5}, "test/accuracy": 0.75, "test/note": "text", "_runtime": 3}
    found = reproduce.outcome(summary, history, table, [Objective("val_loss", "minimize")])
    assert dict(found.metrics) == {"val_loss": 0.5, "test/accuracy": 0.75}
    assert found.epochs == 2
    assert found.predictions_sha256 == reproduce.sha256_file(table)
    # A run known only by W&B's files has no history: the summary's kept best and last epoch say the same.
    assert reproduce.outcome({**summary, "epoch": 2}, [], table, [Objective("val_loss", "minimize")]) == found


@pytest.mark.parametrize(
    ("facts", "missing"),
    [
        ({"code": {"commit": "c", "dirty": False}, "packages": {}}, ["provenance.data_sha256"]),
        ({"data_sha256": {}, "code": {"commit": "c"}, "packages": {}}, ["provenance.code.dirty"]),
        ({"data_sha256": {}, "code": {}, "packages": {}}, []),  # made outside git without GIT_COMMIT
        (None, []),  # a program that records no provenance
    ],
)
def test_missing_facts_names_each_field_cut_from_a_trainer_record(facts, missing):
    assert reproduce.missing_facts(facts) == missing


def test_thread_settings_are_set_again_exactly(monkeypatch):
    assert repeat.thread_settings({"packages": {}}) is None
    threads = repeat.thread_settings({"threads": {"OMP_NUM_THREADS": 2}})
    env = {"OMP_NUM_THREADS": "8", "TF_NUM_INTRAOP_THREADS": "8", "HOME": "/h"}
    repeat.set_threads(env, threads or {})
    assert env == {"OMP_NUM_THREADS": "2", "HOME": "/h"}


def _repo(path: Path) -> str:
    path.mkdir()
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    (path / "code.py").write_text("SCALE = 1\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "first"], check=True)
    return subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize(
    ("code", "match"),
    [
        ({}, "its record has none"),
        ({"commit": "HEAD", "dirty": True}, "the record says the tree was dirty"),
        ({"commit": "0" * 40, "dirty": False}, "does not know commit 0000000000"),
    ],
)
def test_at_commit_refuses_no_commit_a_dirty_tree_and_an_unknown_commit(tmp_path, code, match):
    _repo(tmp_path / "repo")
    with pytest.raises(CannotRerunError, match=match):
        checkout.check(code, tmp_path / "repo")


def test_the_recorded_commit_is_checked_out_in_a_worktree_removed_afterwards(tmp_path):
    commit = _repo(tmp_path / "repo")
    (tmp_path / "repo" / "code.py").write_text("SCALE = 2\n")  # today's uncommitted change stays where it is
    code = {"commit": commit, "dirty": False, "repo": str(tmp_path / "repo")}
    with checkout.code_at(code, tmp_path / "elsewhere", tmp_path / "code") as found:
        assert (found.worktree / "code.py").read_text() == "SCALE = 1\n"
        assert found.place(tmp_path / "repo" / "sub") == found.worktree / "sub"
    assert not (tmp_path / "code").exists()
    listed = subprocess.run(["git", "-C", str(tmp_path / "repo"), "worktree", "list"], capture_output=True, text=True)
    assert len(listed.stdout.splitlines()) == 1
