"""``python -m analysis compare``: crafted tables with a known winner, refusals, and two real tiny runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest
from sklearn.metrics import f1_score, precision_recall_fscore_support

from analysis.__main__ import main
from contract import predictions as schema
from localsweep.storage.layout import DB_NAME
from localsweep.storage.store import SweepStore

N_ROWS, N_CLASSES = 400, 3


def _table(y_true: np.ndarray, right: np.ndarray, seed: int) -> pd.DataFrame:
    """Predictions that are right exactly on the rows ``right`` (confident either way)."""
    rng = np.random.default_rng(seed)
    wrong_class = (y_true + rng.integers(1, N_CLASSES, size=y_true.size)) % N_CLASSES
    y_pred = np.where(right, y_true, wrong_class)
    proba = np.full((y_true.size, N_CLASSES), 0.1)
    proba[np.arange(y_true.size), y_pred] = 0.8
    frame = pd.DataFrame({schema.INDEX: np.arange(y_true.size), schema.Y_TRUE: y_true, schema.Y_PRED: y_pred})
    for k in range(N_CLASSES):
        frame[schema.prob_column(k)] = proba[:, k]
    return frame


@pytest.fixture
def crafted(tmp_path: Path) -> tuple[Path, Path, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, N_CLASSES, N_ROWS)
    a_right = rng.random(N_ROWS) < 0.7
    b_right = a_right | (rng.random(N_ROWS) < 0.6)  # B: right wherever A is, and on most of A's mistakes
    a, b = _table(y_true, a_right, 1), _table(y_true, b_right, 2)
    a.to_csv(tmp_path / "a.csv", index=False)
    b.sample(frac=1.0, random_state=3).to_parquet(tmp_path / "b.parquet")  # another order and format
    return tmp_path / "a.csv", tmp_path / "b.parquet", a, b


def test_compare_finds_the_known_winner(crafted, capsys):
    path_a, path_b, a, b = crafted
    out = path_a.parent / "out"
    assert main(["compare", str(path_a), str(path_b), "--out", str(out), "--resamples", "300"]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    a_right = (a[schema.Y_PRED] == a[schema.Y_TRUE]).to_numpy()
    b_right = (b[schema.Y_PRED] == b[schema.Y_TRUE]).to_numpy()
    b_only = int((b_right & ~a_right).sum())
    test = report["mcnemar"]
    assert (test["a_only"], test["b_only"]) == (0, b_only)
    assert test["p_exact"] == pytest.approx(binomtest(b_only, b_only, 0.5).pvalue)
    assert test["p_exact"] < 1e-10
    assert report["verdict"][0].endswith(": b is more accurate")
    assert report["verdict"][0] in printed
    differences = {d["metric"]: d for d in report["paired_bootstrap"]["differences"]}
    assert set(differences) == {"accuracy", "f1_macro", "auroc_macro"}
    accuracy = differences["accuracy"]
    assert accuracy["difference"] == pytest.approx(b_right.mean() - a_right.mean(), abs=1e-12)
    assert 0 < accuracy["low"] < accuracy["difference"] < accuracy["high"]
    assert accuracy["b_better_share"] == 1.0
    f1 = [f1_score(t[schema.Y_TRUE], t[schema.Y_PRED], average="macro") for t in (a, b)]
    assert differences["f1_macro"]["difference"] == pytest.approx(f1[1] - f1[0], abs=1e-12)
    recall = [precision_recall_fscore_support(t[schema.Y_TRUE], t[schema.Y_PRED])[1] for t in (a, b)]
    deltas = [row["recall"]["delta"] for row in report["per_class"]]
    np.testing.assert_allclose(deltas, recall[1] - recall[0], atol=1e-12)
    assert report["disagreements"]["rows"] == int((a[schema.Y_PRED] != b[schema.Y_PRED]).sum())
    assert len(report["disagreements"]["shown"]) == 20
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2


def test_compare_identical_models_has_nothing_to_test(crafted, capsys):
    path_a, _, _, _ = crafted
    assert main(["compare", str(path_a), str(path_a), "--out", str(path_a.parent / "o"), "--resamples", "0"]) == 0
    report = json.loads((path_a.parent / "o" / "report.json").read_text())
    assert report["names"] == ["A: a", "B: a"]
    assert report["mcnemar"]["p_exact"] is None
    assert report["verdict"] == ["McNemar: A: a and B: a are right and wrong on exactly the same rows; nothing to test"]
    assert report["paired_bootstrap"]["method"] == "skipped: --resamples 0"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b.iloc[:-1], r"rows must be the same examples, but 1 index values are in one table only"),
        (lambda b: b.assign(index=b["index"].where(b["index"] != 5, 6)), r"but b has index 6 2 times"),
        (lambda b: b.assign(y_true=(b["y_true"] + 1) % N_CLASSES), r"y_true differs for 400 of them"),
        (
            lambda b: b.drop(columns="prob_2").assign(prob_1=b["prob_1"] + b["prob_2"], y_true=0, y_pred=0),
            r"both tables must have the same classes, but a has \[0, 1, 2\] and b \[0, 1\]",
        ),
    ],
)
def test_compare_refuses_rows_that_are_not_the_same_examples(crafted, capsys, change, message):
    path_a, _, _, b = crafted
    change(b).to_csv(path_a.parent / "b.csv", index=False)
    assert main(["compare", str(path_a), str(path_a.parent / "b.csv"), "--out", str(path_a.parent / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("analysis: error: ")
    assert re.search(message, err), err
    assert not (path_a.parent / "o").exists()


def test_compare_with_a_class_absent_from_y_true(tmp_path, capsys):
    # Five rows of ten classes: most classes have no row, so their AUROC (and the macro AUROC) is undefined.
    y_true = np.array([1, 4, 4, 7, 9])
    tables = []
    for seed, name in ((0, "a.csv"), (1, "b.csv")):
        proba = np.random.default_rng(seed).dirichlet(np.ones(10), size=y_true.size)
        frame = pd.DataFrame({schema.INDEX: np.arange(5), schema.Y_TRUE: y_true, schema.Y_PRED: proba.argmax(axis=1)})
        for k in range(10):
            frame[schema.prob_column(k)] = proba[:, k]
        frame.to_csv(tmp_path / name, index=False)
        tables.append(frame)
    out = tmp_path / "o"
    args = [str(tmp_path / "a.csv"), str(tmp_path / "b.csv"), "--out", str(out), "--resamples", "50"]
    assert main(["compare", *args]) == 0
    printed = capsys.readouterr()
    assert printed.err == ""
    report = json.loads((out / "report.json").read_text())
    differences = {d["metric"]: d for d in report["paired_bootstrap"]["differences"]}
    assert differences["auroc_macro"]["difference"] is None
    assert report["per_class"][0]["auroc"] == {"a": None, "b": None, "delta": None}
    accuracy = [np.mean(t[schema.Y_TRUE] == t[schema.Y_PRED]) for t in tables]
    assert differences["accuracy"]["difference"] == pytest.approx(accuracy[1] - accuracy[0], abs=1e-12)
    auroc_line = next(line for line in report["verdict"] if "auroc_macro" in line)
    assert "undefined" in auroc_line, auroc_line
    assert "nan" not in printed.out


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("nosuch.csv", "but nosuch.csv does not exist; fix: check the path"),
        ("nosuch.parquet", "but nosuch.parquet does not exist; fix: check the path"),
        ("notes.txt", r"but notes\.txt is neither \.csv nor \.parquet"),
        ("nosuch", "sweep 'nosuch' not found"),
    ],
)
def test_compare_says_what_it_accepts(crafted, monkeypatch, capsys, spec, why):
    path_a = crafted[0]
    monkeypatch.chdir(path_a.parent)
    (path_a.parent / "notes.txt").write_text("not a table\n")
    assert main(["compare", "a.csv", spec, "--out", "o"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "analysis: error: compare's B must be a predictions file (.csv or .parquet), an offline run directory, or a "
        "sweep (a name under --sweeps-root, its directory, or ENTITY/PROJECT/SWEEP_ID), "
    ), err
    assert re.search(why, err), err
    assert "--sweep " not in err
    assert len(err.splitlines()) == 1
    assert not (path_a.parent / "o").exists()


@pytest.mark.slow
def test_compare_two_real_tiny_runs(tmp_path, subprocess_env, trained_run, main_job):
    # Two real tiny runs of the trainer on the same test rows: the run's shared one (units 8) and the shared main
    # job's units-64 trial (tests/conftest.py).
    store = SweepStore.open(main_job.sweep / DB_NAME)
    wide = next(t for t in store.trials() if t.config["units"] == 64)
    store.close()
    assert wide.run_dir is not None
    run_dirs = [trained_run.run_dir, wide.run_dir]
    command = [sys.executable, "-m", "analysis", "compare", *map(str, run_dirs), "--out", "cmp", "--resamples", "200"]
    done = subprocess.run(command, env=subprocess_env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "cmp" / "report.json").read_text())
    assert report["rows"] == 10000  # the MNIST test set, matched by index
    a, b = (pd.read_csv(d / "files" / schema.FILE_NAME) for d in run_dirs)
    a_right, b_right = (t[schema.Y_PRED] == t[schema.Y_TRUE] for t in (a, b))
    test = report["mcnemar"]
    assert test["a_only"] == int((a_right & ~b_right).sum())
    assert test["b_only"] == int((~a_right & b_right).sum())
    assert test["both_right"] + test["a_only"] + test["b_only"] + test["both_wrong"] == 10000
    assert report["names"] == [d.name.rsplit("-", 1)[1] for d in run_dirs]
    assert len(report["verdict"]) == 4
    assert report["verdict"][0] in done.stdout
