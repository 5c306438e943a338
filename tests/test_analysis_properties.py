"""The whole report over its input space, generated: ``python -m analysis report`` (and ``compare``) on any
legitimate predictions table gives scikit-learn's numbers, and on a broken one says so in one line with exit code
2; never a traceback, never a half-written output folder.

The tables span what a real run can produce: 1 to 60 rows, 2 to 100 classes, labels that are not 0..K-1 (negative,
sparse), classes absent from ``y_true`` or from ``y_pred``, tied and uniform scores, all right, all wrong, a
``y_pred`` that is not the argmax; CSV and Parquet. The CLI runs in-process with 20 resamples; the figures are
replaced by a stub PNG (matplotlib would take seconds per example: the figures of such tables are drawn by
``test_analysis_cli``), everything else (reading, metrics, bootstrap, summary, Markdown, HTML, JSON, writing) is
the real code.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

from analysis.__main__ import main
from analysis.report import comparison, figures
from analysis.sources import images
from contract import predictions as schema

PROPERTIES = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI is reproducible
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
RESAMPLES = "20"
_PNG = b"\x89PNG\r\n\x1a\n"  # what the stubbed figures return
_REPORT_FILES = {"report.html", "report.md", "report.json"}
_FIGURES = {
    figures.__name__: (
        "confusion_heatmap",
        "roc_curves",
        "pr_curves",
        "reliability_top_label",
        "reliability_per_class",
        "threshold_curve",
        "gallery",
    ),
    comparison.__name__: ("per_class_deltas", "difference_histograms"),
}


@pytest.fixture(autouse=True, scope="module")
def fast_pipeline() -> Iterator[None]:
    """Stub figures, and the MNIST test split loaded (and its SHA-256 checked) once instead of per report."""
    drawn = [(module, name) for module in (figures, comparison) for name in _FIGURES[module.__name__]]
    with pytest.MonkeyPatch.context() as patch:
        for module, name in drawn:
            assert callable(getattr(module, name)), name
            patch.setattr(module, name, lambda *args, **kwargs: _PNG)
        patch.setattr(images, "load_dataset", functools.cache(images.load_dataset))
        yield


@dataclass(frozen=True)
class Table:
    """A legitimate predictions table and the values written into it."""

    labels: list[int]
    y_true: np.ndarray  # labels
    y_pred: np.ndarray  # labels
    proba: np.ndarray
    parquet: bool

    def frame(self) -> pd.DataFrame:
        head = pd.DataFrame({schema.INDEX: np.arange(self.y_true.size), schema.Y_TRUE: self.y_true})
        head[schema.Y_PRED] = self.y_pred
        columns = [schema.prob_column(label) for label in self.labels]
        return pd.concat([head, pd.DataFrame(self.proba, columns=columns)], axis=1)

    def write(self, directory: Path, frame: pd.DataFrame | None = None, name: str = "p") -> Path:
        frame = self.frame() if frame is None else frame
        if self.parquet:
            path = directory / f"{name}.parquet"
            frame.to_parquet(path)
        else:
            path = directory / f"{name}.csv"
            frame.to_csv(path, index=False, float_format="%.17g")
        return path


MODES = ("random", "ties", "uniform", "all_right", "all_wrong", "one_hot")


@st.composite
def tables(draw: st.DrawFn) -> Table:
    """The structure from Hypothesis (sizes, labels, which classes occur, the kind of scores); the values from a
    seeded generator, so a 60 x 100 table stays one small draw."""
    n_classes = draw(st.integers(2, 100))
    if draw(st.booleans()):
        labels = list(range(n_classes))
    else:
        labels = sorted(draw(st.sets(st.integers(-30, 5000), min_size=n_classes, max_size=n_classes)))
    n_rows = draw(st.integers(1, 60))
    present = draw(st.integers(1, n_classes))  # classes that occur in y_true
    mode = draw(st.sampled_from(MODES))
    argmax = draw(st.booleans()) or mode in ("all_right", "all_wrong")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    codes = rng.choice(rng.choice(n_classes, size=present, replace=False), size=n_rows)
    if mode == "random":
        weights = rng.random((n_rows, n_classes))
    elif mode == "uniform":
        weights = np.ones((n_rows, n_classes))
    else:  # small integer weights: many exact ties
        weights = rng.integers(0, 4, (n_rows, n_classes)).astype(np.float64)
        weights[weights.sum(axis=1) == 0] = 1.0
        winner = {"all_right": codes, "all_wrong": (codes + 1) % n_classes}.get(mode)
        if winner is not None:
            weights[np.arange(n_rows), winner] = 5.0
        if mode == "one_hot":
            weights = np.eye(n_classes)[rng.integers(0, n_classes, n_rows)]
    proba = weights / weights.sum(axis=1, keepdims=True)
    predicted = proba.argmax(axis=1) if argmax else rng.integers(0, n_classes, n_rows)
    label_of = np.array(labels)
    return Table(labels, label_of[codes], label_of[predicted], proba, draw(st.booleans()))


def _cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def _written(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


def _close(ours: float | None, theirs: float) -> bool:
    return ours is None if np.isnan(theirs) else ours is not None and abs(ours - theirs) <= 1e-12


@PROPERTIES
@given(table=tables())
def test_report_of_any_legitimate_table_equals_sklearn(table):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        path = table.write(root)
        code, printed, err = _cli(
            ["report", "--predictions", str(path), "--out", str(root / "r"), "--resamples", RESAMPLES]
        )
        assert (code, err) == (0, ""), err
        assert printed.splitlines() == [f"{kind}: {root / 'r' / f'report.{kind}'}" for kind in ("html", "md", "json")]
        written = _written(root / "r")
        assert written >= _REPORT_FILES
        assert all(name.endswith(".png") for name in written - _REPORT_FILES)  # no staging folder left
        report = json.loads((root / "r" / "report.json").read_text(encoding="utf-8"))
    y, pred, labels = table.y_true, table.y_pred, table.labels
    assert report["classes"] == labels
    assert report["accuracy"] == pytest.approx(accuracy_score(y, pred), abs=1e-12)
    assert report["confusion_matrix"]["counts"] == confusion_matrix(y, pred, labels=labels).tolist()
    precision, recall, f1, support = precision_recall_fscore_support(y, pred, labels=labels, zero_division=np.nan)
    for k, row in enumerate(report["per_class"]):
        assert row["class"] == labels[k]
        assert row["support"] == support[k]
        for name, expected in (("precision", precision[k]), ("recall", recall[k]), ("f1", f1[k])):
            assert _close(row[name], expected), (labels[k], name, row[name], expected)
        positive = y == labels[k]
        if positive.any() and not positive.all():
            assert _close(row["auroc"], roc_auc_score(positive, table.proba[:, k])), labels[k]
            assert _close(row["average_precision"], average_precision_score(positive, table.proba[:, k]))
        else:  # undefined, and the report says why
            assert row["auroc"] is None
            assert f"auroc[{labels[k]}]" in report["undefined"]
    aurocs = [row["auroc"] for row in report["per_class"]]
    if None in aurocs:
        assert report["auroc"]["macro"] is None
    else:
        assert report["auroc"]["macro"] == pytest.approx(np.mean(aurocs), abs=1e-12)
    assert report["uncertainty"]["resamples"] == int(RESAMPLES)
    for low, high in report["uncertainty"]["intervals"].values():
        assert (low is None) == (high is None)
        assert low is None or low <= high


def _set(frame: pd.DataFrame, column: str, value: Any) -> pd.DataFrame:
    """``frame`` with ``column`` at row 0 set to ``value`` (a text value makes the column text, as in a file)."""
    frame = frame.copy()
    frame[column] = frame[column].astype(str if isinstance(value, str) else type(value))
    frame.loc[0, column] = value
    return frame


def _zero_padded(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    label = table.labels[0]
    return frame.rename(columns={schema.prob_column(label): f"{schema.PROB_PREFIX}0{abs(label)}"})


# Each breaks one rule of the contract (contract/predictions.py) in a legitimate table.
BREAKS: dict[str, Callable[[pd.DataFrame, Table], pd.DataFrame]] = {
    "nan probability": lambda f, t: _set(f, schema.prob_column(t.labels[0]), float("nan")),
    "negative probability": lambda f, t: _set(f, schema.prob_column(t.labels[0]), -0.5),
    "logit": lambda f, t: _set(f, schema.prob_column(t.labels[-1]), 3.5),
    "row not summing to 1": lambda f, t: _set(f, schema.prob_column(t.labels[0]), f.iloc[0, 3] + 0.01),
    "y_true outside the classes": lambda f, t: _set(f, schema.Y_TRUE, max(t.labels) + 1),
    "y_pred outside the classes": lambda f, t: _set(f, schema.Y_PRED, min(t.labels) - 1),
    "float label": lambda f, t: _set(f, schema.Y_TRUE, 0.5),
    "text probability": lambda f, t: _set(f, schema.prob_column(t.labels[0]), "high"),
    "missing y_pred": lambda f, t: f.drop(columns=schema.Y_PRED),
    "missing prob column": lambda f, t: f.drop(columns=schema.prob_column(t.labels[-1])),
    "zero-padded prob column": _zero_padded,
    "no rows": lambda f, t: f.iloc[:0],
}


@PROPERTIES
@given(table=tables(), broken=st.sampled_from(sorted(BREAKS)))
def test_report_of_a_broken_table_is_one_line_and_exit_2(table, broken):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        path = table.write(root, BREAKS[broken](table.frame(), table))
        code, printed, err = _cli(
            ["report", "--predictions", str(path), "--out", str(root / "r"), "--resamples", RESAMPLES]
        )
        assert (code, printed) == (2, ""), err
        assert err.startswith("analysis: error: "), err
        assert len(err.splitlines()) == 1, err
        assert not (root / "r").exists()


@settings(PROPERTIES, max_examples=20)  # two tables per example
@given(table=tables(), other=st.integers(0, 2**32 - 1))
def test_compare_of_two_models_on_the_same_rows_counts_them_right(table, other):
    rng = np.random.default_rng(other)
    weights = rng.random(table.proba.shape) ** 4  # another model: its own scores, mostly confident
    proba = weights / weights.sum(axis=1, keepdims=True)
    b = Table(table.labels, table.y_true, np.array(table.labels)[proba.argmax(axis=1)], proba, not table.parquet)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        shuffled = b.frame().sample(frac=1.0, random_state=0)  # matched by index, not by order
        paths = [str(table.write(root, name="a")), str(b.write(root, shuffled, name="b"))]
        code, _, err = _cli(["compare", *paths, "--out", str(root / "c"), "--resamples", RESAMPLES])
        assert (code, err) == (0, ""), err
        report = json.loads((root / "c" / "report.json").read_text(encoding="utf-8"))
    a_right, b_right = table.y_pred == table.y_true, b.y_pred == b.y_true
    test = report["mcnemar"]
    assert (test["a_only"], test["b_only"]) == (int(np.sum(a_right & ~b_right)), int(np.sum(~a_right & b_right)))
    differences = {d["metric"]: d for d in report["paired_bootstrap"]["differences"]}
    assert differences["accuracy"]["difference"] == pytest.approx(b_right.mean() - a_right.mean(), abs=1e-12)
    assert not any("nan" in line for line in report["verdict"]), report["verdict"]
