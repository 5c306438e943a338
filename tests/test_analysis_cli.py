"""``python -m analysis report`` end to end: a predictions file, bad input, real offline runs and sweeps."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from markdown_it import MarkdownIt
from sklearn.metrics import (
    brier_score_loss,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

from analysis import pipeline
from analysis.__main__ import main
from analysis.sources.source import RunInfo, Source
from analysis.stats import bootstrap
from localsweep.core.trial import CRASHED, FINISHED, TrialState
from localsweep.storage.layout import DB_NAME
from localsweep.storage.store import Location, SweepStore, default_storage
from tests.conftest import REPO_ROOT
from tests.localsweep_cli import ECHO_FUNCTION, ECHO_PROGRAM
from tests.trials import start_trial

_VOID = {"meta", "img", "br", "hr", "link", "input"}


class _Checker(HTMLParser):
    """Fails on a mis-nested or unclosed tag; collects every <img> source."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.images: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images[str(dict(attrs)["alt"])] = str(dict(attrs)["src"])
        elif tag not in _VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open, f"</{tag}> closes nothing"
        assert self.open.pop() == tag, f"</{tag}> closes another tag"


def _embedded_pngs(html_path: Path) -> dict[str, bytes]:
    checker = _Checker()
    checker.feed(html_path.read_text(encoding="utf-8"))
    checker.close()
    assert checker.open == []
    prefix = "data:image/png;base64,"
    assert all(src.startswith(prefix) for src in checker.images.values())
    return {alt: base64.b64decode(src.removeprefix(prefix)) for alt, src in checker.images.items()}


def _predictions_csv(path: Path, n_rows: int = 300, n_classes: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, n_classes, size=n_rows)
    logits = rng.normal(size=(n_rows, n_classes))
    logits[np.arange(n_rows), y_true] += 1.5
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    frame = pd.DataFrame({"index": np.arange(n_rows), "y_true": y_true, "y_pred": proba.argmax(axis=1)})
    for k in range(n_classes):
        frame[f"prob_{k}"] = proba[:, k]
    frame.to_csv(path, index=False, float_format="%.17g")
    return frame


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "analysis", "report", *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_cli_report_on_a_predictions_file(tmp_path, subprocess_env):
    frame = _predictions_csv(tmp_path / "p.csv")
    out = tmp_path / "report"
    args = ["--predictions", str(tmp_path / "p.csv"), "--out", str(out), "--positive-class", "1"]
    result = _run([*args, "--target-recall", "0.9"], subprocess_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{kind}: {out / f'report.{kind}'}" for kind in ("html", "md", "json")]
    report = json.loads((out / "report.json").read_text())
    y, proba = frame["y_true"].to_numpy(), frame[["prob_0", "prob_1", "prob_2"]].to_numpy()
    assert report["auroc"]["macro"] == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"), abs=1e-12)
    precision = precision_recall_fscore_support(y, frame["y_pred"], average=None)[0]
    assert [row["precision"] for row in report["per_class"]] == pytest.approx(precision.tolist(), abs=1e-12)
    assert report["thresholds"]["positive_class"] == 1
    assert report["thresholds"]["target_recall"]["point"]["recall"] >= 0.9
    assert report["provenance"]["rows"] == 300
    pngs = _embedded_pngs(out / "report.html")
    assert sorted(pngs) == sorted(
        [
            "Confusion matrix",
            "ROC curves (one vs rest)",
            "Precision-recall curves (one vs rest)",
            "Precision / recall against the threshold",
            "Reliability diagram of the top label",
            "Reliability diagrams of each class (one vs rest)",
        ]
    )
    assert all(png.startswith(b"\x89PNG\r\n\x1a\n") for png in pngs.values())
    markdown = (out / "report.md").read_text()
    assert "![Confusion matrix](confusion_matrix.png)" in markdown
    assert (out / "confusion_matrix.png").read_bytes() == pngs["Confusion matrix"]


def test_cli_report_sections_hold_sklearns_numbers_and_intervals(tmp_path):
    frame = _predictions_csv(tmp_path / "p.csv", n_rows=500)
    assert main(["report", "--predictions", str(tmp_path / "p.csv"), "--out", str(tmp_path / "r")]) == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    y, proba = frame["y_true"].to_numpy(), frame[["prob_0", "prob_1", "prob_2"]].to_numpy()
    uncertainty = report["uncertainty"]
    assert (uncertainty["resamples"], uncertainty["seed"], uncertainty["confidence"]) == (1000, 0, 0.95)
    assert set(uncertainty["intervals"]) == set(bootstrap.SCALARS)
    for name, (low, high) in uncertainty["intervals"].items():
        assert low <= report["headline"][name] <= high, name
    assert len(uncertainty["bands"]["roc"]["0"]["low"]) == len(uncertainty["bands"]["fpr_grid"])
    calibration = report["calibration"]
    assert calibration["brier"] == pytest.approx(brier_score_loss(y, proba, labels=[0, 1, 2]), abs=1e-12)
    assert calibration["log_loss"] == pytest.approx(log_loss(y, proba, labels=[0, 1, 2]), abs=1e-12)
    assert calibration["bins"] == 15
    assert sum(calibration["top_label"]["bins"]["rows"]) == 500
    counts = confusion_matrix(y, frame["y_pred"])
    top = report["errors"]["top_confusions"][0]
    assert top["count"] == (counts - np.diag(np.diag(counts))).max()
    assert report["errors"]["gallery"].startswith("images unavailable: the mnist test split")
    html = (tmp_path / "r" / "report.html").read_text()
    for title in ("Overall", "Top confusions", "Calibration", "Most confident mistakes"):
        assert f"<h2>{title}</h2>" in html


def test_cli_report_notes_argmax_disagreements_and_repeated_index(tmp_path):
    frame = _predictions_csv(tmp_path / "p.csv")
    frame.loc[[3, 4], "y_pred"] = (frame.loc[[3, 4], "y_pred"] + 1) % 3
    frame.loc[10, "index"] = 11
    frame.to_csv(tmp_path / "p.csv", index=False, float_format="%.17g")
    assert main(["report", "--predictions", str(tmp_path / "p.csv"), "--out", str(tmp_path / "r")]) == 0
    notes = json.loads((tmp_path / "r" / "report.json").read_text())["provenance"]["notes"]
    assert any(n.startswith("y_pred is not the argmax of the probabilities in 2 of 300 rows") for n in notes)
    assert any(n.startswith("index repeats: 1 value(s) appear more than once (first: 11, 2 times)") for n in notes)
    assert "index repeats" in (tmp_path / "r" / "report.html").read_text()


def test_cli_bad_input_exits_2_with_one_line_and_no_traceback(tmp_path, subprocess_env):
    (tmp_path / "logits.csv").write_text("index,y_true,y_pred,prob_0,prob_1\n0,0,0,2.5,-1.0\n")
    result = _run(["--predictions", "logits.csv"], subprocess_env, tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("analysis: error: probabilities must lie in [0, 1], but prob_0 = 2.5")
    assert len(result.stderr.splitlines()) == 1
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--predictions", "missing.csv"], "must exist, but missing.csv does not"),
        (["--predictions", "."], r"must be a CSV or Parquet file, but \. is a directory; fix: pass the table file"),
        (["--predictions", "p.csv", "--positive-class", "7"], r"one of the classes \[0, 1, 2\], but got 7"),
        (["--sweep", "me/project/abc123"], "WANDB_MODE=offline forbids the server"),
        (["--sweep", "nosuch", "--sweeps-root", "sweeps"], "sweep 'nosuch' not found"),
        (["--run", "."], "must be an offline wandb run directory"),
    ],
)
@pytest.mark.backend  # a sweep store, wherever it is recorded
def test_cli_bad_sources_exit_2(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    _predictions_csv(tmp_path / "p.csv")
    assert main(["report", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("analysis: error: ")
    assert re.search(message, err), err


def _table(y_true: np.ndarray, n_classes: int, seed: int = 0) -> pd.DataFrame:
    proba = np.random.default_rng(seed).dirichlet(np.ones(n_classes), size=y_true.size)
    frame = pd.DataFrame({"index": np.arange(y_true.size), "y_true": y_true, "y_pred": proba.argmax(axis=1)})
    for k in range(n_classes):
        frame[f"prob_{k}"] = proba[:, k]
    return frame


ABSENT_CLASSES = [
    ("one_row.csv", np.array([3]), 10),
    ("five_rows.csv", np.array([1, 4, 4, 7, 9]), 10),
    ("one_class.csv", np.full(30, 6), 10),
    ("binary_without_1.csv", np.zeros(20, dtype=np.int64), 2),
    ("binary_without_1.parquet", np.zeros(20, dtype=np.int64), 2),
]


@pytest.mark.parametrize(("name", "y_true", "n_classes"), ABSENT_CLASSES)
def test_cli_report_with_classes_absent_from_y_true(tmp_path, capsys, name, y_true, n_classes):
    frame = _table(y_true, n_classes)
    path = tmp_path / name
    frame.to_parquet(path) if name.endswith(".parquet") else frame.to_csv(path, index=False)
    assert main(["report", "--predictions", str(path), "--out", str(tmp_path / "r"), "--resamples", "20"]) == 0
    assert capsys.readouterr().err == ""
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    absent = sorted(set(range(n_classes)) - set(y_true.tolist()))
    for k in absent:
        assert report["per_class"][k]["auroc"] is None
        assert report["per_class"][k]["average_precision"] is None
        assert report["undefined"][f"auroc[{k}]"] == f"class {k} is absent from y_true (support 0)"
    assert report["auroc"]["macro"] is None
    assert report["uncertainty"]["resamples"] == 20
    assert report["accuracy"] == pytest.approx(np.mean(frame["y_true"] == frame["y_pred"]), abs=1e-12)


def _tree(root: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else None for p in sorted(root.rglob("*"))}


def _block_markdown(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk fills up when report.md is written (after the PNGs and report.html)."""
    for method in ("write_text", "write_bytes"):
        original = getattr(Path, method)

        def full(self: Path, data: Any, *args: Any, original: Any = original, **kwargs: Any) -> int:
            if self.name == "report.md":
                raise OSError(28, "No space left on device", str(self))
            return int(original(self, data, *args, **kwargs))

        monkeypatch.setattr(Path, method, full)


@pytest.mark.parametrize(
    ("out", "prepare", "message"),
    [
        ("taken", lambda root: (root / "taken").write_text("mine\n"), r"taken is a file"),
        ("taken/sub", lambda root: (root / "taken").write_text("mine\n"), r"taken is a file"),
        ("r", lambda root: (root / "r" / "report.html").mkdir(parents=True), r"report\.html is a directory"),
        ("/proc/analysis-report", lambda root: None, r"/proc/analysis-report"),
    ],
)
@pytest.mark.parametrize("command", ["report", "compare"])
def test_cli_unwritable_out_exits_2_and_writes_nothing(tmp_path, monkeypatch, capsys, command, out, prepare, message):
    monkeypatch.chdir(tmp_path)
    _predictions_csv(tmp_path / "p.csv", n_rows=40)
    prepare(tmp_path)
    before = _tree(tmp_path)
    sources = ["--predictions", "p.csv"] if command == "report" else ["p.csv", "p.csv"]
    assert main([command, *sources, "--resamples", "0", "--out", out]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"analysis: error: the report's folder --out must be a writable directory, but {out}")
    assert re.search(message, err), err
    assert "fix: " in err
    assert len(err.splitlines()) == 1
    assert _tree(tmp_path) == before


def test_cli_report_that_fails_half_way_leaves_nothing(tmp_path, monkeypatch, capsys):
    _predictions_csv(tmp_path / "p.csv", n_rows=40)
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "report.html").write_text("the previous report\n")
    before = _tree(tmp_path)
    _block_markdown(monkeypatch)
    assert (
        main(["report", "--predictions", str(tmp_path / "p.csv"), "--resamples", "0", "--out", str(tmp_path / "r")])
        == 2
    )
    err = capsys.readouterr().err
    assert "No space left on device" in err
    assert len(err.splitlines()) == 1
    assert _tree(tmp_path) == before


class _Rendered(HTMLParser):
    """The tags of rendered Markdown, and the text of each table row's cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.rows: list[list[str]] = []
        self.in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.rows[-1].append("")
            self.in_cell = True

    def handle_endtag(self, tag: str) -> None:
        self.in_cell = self.in_cell and tag not in ("td", "th")

    def handle_data(self, data: str) -> None:
        if self.in_cell:
            self.rows[-1][-1] += data


HOSTILE_CONFIG = {
    "activation": "<script>alert(1)</script>",
    "optimizer": '<img src=x onerror="alert(1)">',
    "schedule": "λ=0.9 · Größe 日本",
    "tag": "[x](javascript:alert(1)) *bold* _it_ `code` a|b &amp; \\ ![i](http://tracker/p.png)",
    "learning_rate": 0.001,
}


def test_report_markdown_shows_config_values_as_written(tmp_path):
    _predictions_csv(tmp_path / "p.csv", n_rows=40)
    run = RunInfo("r1", "<b>bold-run</b>", "finished", HOSTILE_CONFIG, {}, "here")
    analysis = pipeline.analyse(Source(tmp_path / "p.csv", "test", run=run), resamples=0)
    markdown = pipeline.write(analysis, tmp_path / "r")["md"].read_text(encoding="utf-8")
    assert "\\u03bb" not in markdown
    # Rendered as GitHub does (CommonMark with tables, inline HTML allowed): no markup comes from a value.
    rendered = _Rendered()
    rendered.feed(MarkdownIt("commonmark", {"html": True}).enable("table").render(markdown))
    tags = {tag for tag, _ in rendered.tags}
    assert not tags & {"script", "a", "em", "strong", "code", "b"}, tags
    images = [str(attrs["src"]) for tag, attrs in rendered.tags if tag == "img"]
    assert images
    assert all(re.fullmatch(r"[a-z_]+\.png", src) for src in images), images
    shown = {row[0]: row[1] for row in rendered.rows if len(row) == 2}
    for key, value in HOSTILE_CONFIG.items():
        assert shown[key] == json.dumps(value, ensure_ascii=False), key


SWEEP_CONFIG = {
    "method": "grid",
    "metric": {"name": "val_accuracy", "goal": "maximize"},
    "parameters": {"units": {"values": [16, 32]}, "epochs": {"value": 1}},
}


def _store_with_trial(root: Path, state: TrialState, run_dir: Path | None, metric_value: float | None) -> None:
    store = SweepStore.create(
        root / "s", name="s", sweep_id="abc", config=SWEEP_CONFIG, source="test", settings={}, storage=default_storage()
    )
    store.acquire_lease()
    start_trial(store, "run1", {"units": {"value": 16}, "epochs": {"value": 1}})
    store.finish_trial(
        "run1",
        state=state,
        requeued=False,
        exit_code=0 if state == FINISHED else 1,
        error=None,
        run_dir=run_dir,
        history=[],
        summary={},
        artifacts=[],
        metric_value=metric_value,
        metric_imputed=False,
    )
    store.release_lease()
    store.close()


@pytest.mark.backend  # a sweep store, wherever it is recorded
def test_cli_sweep_without_finished_runs_exits_2(tmp_path, capsys):
    _store_with_trial(tmp_path, CRASHED, None, None)
    assert main(["report", "--sweep", "s", "--sweeps-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "must have a finished run with a val_accuracy value, but sweep s has none (run1: crashed)" in err


@pytest.mark.backend  # a sweep store, wherever it is recorded
def test_cli_best_run_without_predictions_exits_2(tmp_path, capsys):
    import wandb  # the real SDK, offline (tests/conftest.py)

    with wandb.init(project="analysis-test") as run:
        run.log({"val_accuracy": 0.5})
    run_dir = Path(run.dir).parent  # run.dir is <run dir>/files
    _store_with_trial(tmp_path, FINISHED, run_dir, 0.5)
    assert main(["report", "--sweep", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert f"must have a predictions artifact (or files/predictions.csv), but run {run.id}" in err


@pytest.mark.slow
def test_cli_report_on_a_real_offline_sweep(tmp_path, subprocess_env, main_job):
    # The run's shared main job (tests/conftest.py): a pooled offline sweep of the real trainer, in SQLite.
    env = {k: v for k, v in subprocess_env.items() if k != "LOCALSWEEP_STORAGE"}
    store = SweepStore.open(main_job.sweep / DB_NAME)
    best, trials = store.best_trial(), store.trials()
    store.close()
    assert best is not None
    assert best.run_dir is not None

    result = _run(["--sweep", main_job.name, "--sweeps-root", str(main_job.sweeps_root), "--out", "r", "--log"], env,
                  tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["run"]["run_id"] == best.run_id
    assert report["run"]["config"]["units"] == best.config["units"]
    assert report["sweep"]["rank"] == 1
    assert report["sweep"]["scored_trials"] == len(trials) == 3
    assert report["sweep"]["parameters"] == ["units"]
    assert report["provenance"]["artifact"] == f"predictions-{best.run_id}"
    assert report["provenance"]["rows"] == 10000  # the MNIST test set
    assert report["classes"] == list(range(10))
    frame = pd.read_csv(best.run_dir / "files" / "predictions.csv")
    proba = frame[[f"prob_{k}" for k in range(10)]].to_numpy()
    expected = roc_auc_score(frame["y_true"], proba, multi_class="ovr", average="micro")
    assert report["auroc"]["micro"] == pytest.approx(expected, abs=1e-12)
    pngs = _embedded_pngs(tmp_path / "r" / "report.html")
    assert {
        "Confusion matrix",
        "Parallel coordinates of all trials",
        "Sweep metric against each hyperparameter",
    } <= set(pngs)

    # --log wrote a real offline wandb run of job type "analysis" with the wandb.plot tables.
    logged = result.stdout.splitlines()[-1].split()[3]
    from localsweep.core.runlog import iter_records, read_run
    from localsweep.storage.layout import SweepLayout

    run_dir = SweepLayout(Path(env["WANDB_DIR"])).find_run_dir(logged)
    assert run_dir is not None
    record = read_run(run_dir)
    assert record.summary["accuracy"] == pytest.approx(report["accuracy"])
    assert record.summary["confusion_matrix_table/_type"] == record.summary["roc_table/_type"] == "table-file"
    assert record.summary["confusion_matrix_table/nrows"] == 100  # 10 x 10 (actual, predicted, count) rows
    assert record.config["analysed_run"] == best.run_id
    run_records = [r.run for r in iter_records(run_dir / f"run-{logged}.wandb") if r.HasField("run")]
    assert run_records[0].job_type == "analysis"

    # The same run analysed directly with --run gives the same numbers.
    single = _run(["--run", str(best.run_dir), "--out", "single"], env, tmp_path)
    assert single.returncode == 0, single.stderr[-2000:]
    again = json.loads((tmp_path / "single" / "report.json").read_text())
    assert (again["per_class"], again["auroc"]) == (report["per_class"], report["auroc"])


# Its own sweep, recorded in PostgreSQL (the shared main job's is SQLite): the report must read it from there.
# The TensorFlow-free echo program, logging a predictions table as the trainer does: the report's reading of a
# PostgreSQL record is the point here, not the training (the main job trains for real).
TINY_SWEEP = f"""
program: {REPO_ROOT / ECHO_PROGRAM}
method: grid
metric:
  name: score
  goal: maximize
parameters:
  x:
    values: [0.3, 0.7]
  rows:
    value: 60
"""


@pytest.mark.slow
def test_cli_report_of_a_postgresql_sweep_whose_run_ran_on_another_host(tmp_path, subprocess_env, postgres_url):
    # Agents on many hosts share a PostgreSQL record; the host making the report has none of their run dirs.
    (tmp_path / "tiny.yaml").write_text(TINY_SWEEP)
    sweep = [sys.executable, "-m", "localsweep", "run", "tiny.yaml", "--name", "tiny", "--storage", postgres_url]
    sweep += ["--function", ECHO_FUNCTION]
    done = subprocess.run(sweep, env=subprocess_env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    here = _run(["--sweep", "tiny", "--storage", postgres_url, "--out", "here"], subprocess_env, tmp_path)
    assert here.returncode == 0, here.stderr[-2000:]
    local = json.loads((tmp_path / "here" / "report.json").read_text())

    store = SweepStore.connect(Location("tiny", tmp_path / "offline_sweeps", postgres_url))
    best = store.best_trial()
    store.close()
    assert best is not None
    assert best.run_dir is not None
    shutil.move(best.run_dir, tmp_path / "moved")  # the run dir is on the other host only
    elsewhere = tmp_path / "other-host"
    elsewhere.mkdir()
    env = {**subprocess_env, "LOCALSWEEP_STORAGE": postgres_url}
    there = _run(["--sweep", "tiny", "--out", "there"], env, elsewhere)
    assert there.returncode == 0, there.stderr[-2000:]
    remote = json.loads((elsewhere / "there" / "report.json").read_text())
    assert remote["run"]["run_id"] == local["run"]["run_id"] == best.run_id
    assert (remote["per_class"], remote["auroc"], remote["sweep"]) == (
        local["per_class"],
        local["auroc"],
        local["sweep"],
    )
    assert any("predictions were read from the sweep's store" in note for note in remote["provenance"]["notes"])

    shutil.rmtree(elsewhere / "there")
    sqlite = {k: v for k, v in subprocess_env.items() if k != "LOCALSWEEP_STORAGE"}
    without = _run(["--sweep", "tiny", "--out", "there"], sqlite, elsewhere)  # SQLite: no such sweep here
    assert without.returncode == 2
    assert "sweep 'tiny' not found under offline_sweeps/" in without.stderr


def test_cli_online_sweep_without_a_key_exits_2(tmp_path, subprocess_env):
    env = {**subprocess_env, "WANDB_MODE": "online", "HOME": str(tmp_path)}  # no key anywhere, no netrc
    result = _run(["--sweep", "me/project/abc123"], env, tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("analysis: error: --sweep ENTITY/PROJECT/SWEEP_ID needs W&B's API")
    assert "No API key configured" in result.stderr
