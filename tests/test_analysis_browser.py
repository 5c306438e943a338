"""The HTML reports in a real browser: Debian's chromium driven by playwright (``tests/browser.py``). They render,
every figure loads, the console stays clean; a screenshot of each is kept (its path is printed: ``pytest -s``
shows it)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from PIL import Image
from playwright.sync_api import Page

from analysis import compare, pipeline
from analysis.report.front import FIGURE
from analysis.sources.source import ObjectivePoint, Pareto, RunInfo, Selection, Source, SweepInfo, TrialPoint
from analysis.sources.trials import best_rule, hint
from contract.objectives import Objective, pareto_front
from trainer.config import TrainConfig
from trainer.data import load_dataset


def _open(page: Page, html: Path, screenshot: Path) -> dict[str, tuple[bool, int]]:
    """Load the page, keep a full-page screenshot, and return each image's (loaded, natural width) by alt text."""
    page.goto(html.as_uri(), wait_until="load")
    page.screenshot(path=str(screenshot), full_page=True)
    print(f"screenshot: {screenshot}")
    found = page.eval_on_selector_all("img", "images => images.map(i => [i.alt, i.complete, i.naturalWidth])")
    return {alt: (complete, width) for alt, complete, width in found}


def _mnist_like_source(directory: Path) -> Source:
    """600 rows whose labels are MNIST's first test labels (so the gallery finds their images), a run and a
    sweep of 4 trials (so the parameter importance is drawn)."""
    y_true = load_dataset(TrainConfig()).y_test[:600].astype(np.int64)
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(600, 10))
    logits[np.arange(600), y_true] += 2.5
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    frame = pd.DataFrame({"index": np.arange(600), "y_true": y_true, "y_pred": proba.argmax(axis=1)})
    for k in range(10):
        frame[f"prob_{k}"] = proba[:, k]
    path = directory / "predictions.csv"
    frame.to_csv(path, index=False, float_format="%.17g")
    trials = [
        TrialPoint(f"run{i}", "finished", {"units": units, "optimizer": optimizer}, 0.9 + units / 1000)
        for i, (units, optimizer) in enumerate([(16, "adam"), (32, "sgd"), (64, "adam"), (128, "sgd")])
    ]
    sweep = SweepInfo("tiny", "abc", "val_accuracy", "maximize", str(directory), ["units", "optimizer"], trials)
    run = RunInfo("run3", "run3", "finished", {"units": 128, "optimizer": "sgd"}, {}, str(directory))
    return Source(path, origin="test", run=run, sweep=sweep)


def test_report_renders_with_every_figure_and_no_console_error(browser_page, tmp_path):
    page, errors = browser_page
    analysis = pipeline.analyse(_mnist_like_source(tmp_path), resamples=200)
    html = pipeline.write(analysis, tmp_path / "report")["html"]
    images = _open(page, html, tmp_path / "report.png")
    assert sorted(images) == sorted(
        [
            "Confusion matrix",
            "ROC curves (one vs rest)",
            "Precision-recall curves (one vs rest)",
            "Reliability diagram of the top label",
            "Reliability diagrams of each class (one vs rest)",
            "Precision / recall against the threshold",
            "Most confident mistakes: the test images",
            "Sweep metric against each hyperparameter",
            "Parallel coordinates of all trials",
            "Parameter importance and correlation with the sweep metric",
        ]
    )
    assert all(loaded and width > 100 for loaded, width in images.values()), images
    titles = page.eval_on_selector_all("h2", "headings => headings.map(h => h.textContent)")
    assert titles[:4] == ["Run and provenance", "Overall", "Confusion matrix", "Top confusions"]
    assert {"Calibration", "Most confident mistakes", "Parameter importance", "Sweep trials"} <= set(titles)
    assert errors == []
    assert Image.open(tmp_path / "report.png").size[0] == 1200


def test_report_heatmap_cells_show_on_the_rendered_page(browser_page, tmp_path):
    page, errors = browser_page
    source = _mnist_like_source(tmp_path)
    html = pipeline.write(pipeline.analyse(Source(source.predictions_path, "test"), resamples=0), tmp_path / "r")[
        "html"
    ]
    _open(page, html, tmp_path / "page.png")
    page.locator("#confusion_matrix img").screenshot(path=str(tmp_path / "heatmap.png"))
    pixels = np.asarray(Image.open(tmp_path / "heatmap.png").convert("RGB")).astype(int)
    # Every heatmap cell is a solid block of its "Blues" colour: each one must be on the rendered page.
    shares = json.loads((tmp_path / "r" / "report.json").read_text())["confusion_matrix"]["row_normalized"]
    for share in np.ravel(shares):
        colour = (np.array(colormaps["Blues"](share)[:3]) * 255).round()
        assert (np.abs(pixels - colour).max(axis=-1) <= 2).sum() > 100, f"no heatmap cell of share {share}"
    assert errors == []


def test_compare_report_renders(browser_page, tmp_path):
    page, errors = browser_page
    source = _mnist_like_source(tmp_path)
    frame = pd.read_csv(source.predictions_path)
    frame["y_pred"] = frame["y_true"]  # B: always right
    frame.to_csv(tmp_path / "b.csv", index=False)
    result = compare.compare(Source(source.predictions_path, "a"), Source(tmp_path / "b.csv", "b"), resamples=100)
    html = compare.write(result, tmp_path / "cmp")["html"]
    images = _open(page, html, tmp_path / "compare.png")
    assert sorted(images) == ["Paired bootstrap distributions of B - A", "Per-class F1 and AUROC differences"]
    assert all(loaded and width > 100 for loaded, width in images.values()), images
    assert errors == []


def test_pareto_front_section_renders(browser_page, tmp_path):
    page, errors = browser_page
    source = _mnist_like_source(tmp_path)
    goals = (Objective("val_accuracy", "maximize"), Objective("model_parameters", "minimize"))
    sizes = {"run0": 1000.0, "run1": 500.0, "run2": 4000.0, "run3": 3000.0}
    trials = source.sweep.trials if source.sweep else []
    values = [(t.metric_value, sizes[t.run_id]) for t in trials]
    front = pareto_front(goals, values)
    points = tuple(
        ObjectivePoint(t.run_id, i + 1, t.state, t.config, values[i], i in front) for i, t in enumerate(trials)
    )
    ranked = (("run3", "run2", "run1", "run0"), ("run1", "run0", "run3", "run2"))
    config = {"metrics": [{"name": g.name, "goal": g.goal} for g in goals]}
    selection = Selection("best", "run3", 4, best_rule(config), hint(config))
    multi = replace(source, pareto=Pareto(goals, points, ranked), selection=selection)
    html = pipeline.write(pipeline.analyse(multi, resamples=0), tmp_path / "pareto")["html"]
    images = _open(page, html, tmp_path / "pareto.png")  # the one page load
    page.locator("#pareto-front").screenshot(path=str(tmp_path / "front.png"))
    print(f"screenshot: {tmp_path / 'front.png'}")
    loaded, width = images[FIGURE[1]]
    assert loaded
    assert width > 100
    titles = page.eval_on_selector_all("h2", "headings => headings.map(h => h.textContent)")
    assert titles[:3] == ["Pareto front", "Explained trial on each metric", "Run and provenance"]
    rows = page.eval_on_selector_all("#pareto-front tr", "rows => rows.map(r => r.cells[2].textContent)")
    assert rows == ["run", "run1", "run3"]  # the header, then the front in start order
    assert Image.open(tmp_path / "front.png").size[1] > 300
    assert errors == []
