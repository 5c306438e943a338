"""The sweep's figures as PNG bytes: each trial's metric against its hyperparameters, their importance, and the
Pareto front of a sweep with several objectives."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from analysis.report.figures import to_png
from analysis.sources.source import Pareto
from analysis.stats.importance import Importance
from contract.objectives import Objective

PAIRS_SHOWN = 6
"""Objective pairs drawn for a sweep with more than two objectives (the first objectives' pairs)."""


def _numeric(values: Sequence[Any]) -> tuple[np.ndarray, list[str] | None]:
    """Values as floats; categorical values as codes, with their names."""
    try:
        return np.asarray(values, dtype=float), None
    except (TypeError, ValueError):
        names = sorted({str(v) for v in values})
        return np.array([names.index(str(v)) for v in values], dtype=float), names


def metric_vs_parameters(
    configs: list[dict[str, Any]], metric: list[float], metric_name: str, parameters: list[str]
) -> bytes:
    """One scatter panel per swept parameter: the sweep metric of every scored trial against its value."""
    columns = min(3, len(parameters))
    rows = -(-len(parameters) // columns)
    figure = Figure(figsize=(4 * columns, 3 * rows))
    grid = figure.subplots(rows, columns, squeeze=False)
    for axes, name in zip(grid.ravel(), parameters, strict=False):
        values, names = _numeric([config.get(name) for config in configs])
        axes.scatter(values, metric, s=14, alpha=0.8)
        axes.set(xlabel=name, ylabel=metric_name)
        if names is not None:
            axes.set_xticks(range(len(names)), names, rotation=30, fontsize=7)
        elif values.size and values.min() > 0 and values.max() / values.min() > 100:
            axes.set_xscale("log")
    for axes in grid.ravel()[len(parameters) :]:
        axes.set_visible(False)
    figure.suptitle(f"{metric_name} against each hyperparameter")
    figure.tight_layout()
    return to_png(figure)


def parallel_coordinates(
    configs: list[dict[str, Any]], metric: list[float], metric_name: str, parameters: list[str]
) -> bytes:
    """Every scored trial as one line across the parameters' axes (each scaled to its range), coloured by metric."""
    axes_names = [*parameters, metric_name]
    columns = [_numeric([config.get(name) for config in configs]) for name in parameters]
    columns.append((np.asarray(metric, dtype=float), None))
    scaled = []
    for values, _ in columns:
        low, high = np.nanmin(values), np.nanmax(values)
        scaled.append((values - low) / (high - low) if high > low else np.full_like(values, 0.5))
    points = np.stack(scaled, axis=1)
    figure = Figure(figsize=(1.8 * len(axes_names) + 1, 4))
    axes = figure.subplots()
    xs = np.arange(len(axes_names))
    lines = LineCollection([np.column_stack([xs, row]) for row in points], cmap="viridis", lw=1.2, alpha=0.8)
    lines.set_array(np.asarray(metric, dtype=float))
    axes.add_collection(lines)
    figure.colorbar(lines, ax=axes, label=metric_name)
    for x, (values, names) in zip(xs, columns, strict=True):
        axes.axvline(x, color="black", lw=0.6)
        low, high = (names[0], names[-1]) if names else (f"{np.nanmin(values):.3g}", f"{np.nanmax(values):.3g}")
        axes.text(x, -0.06, low, ha="center", va="top", fontsize=7)
        axes.text(x, 1.04, high, ha="center", va="bottom", fontsize=7)
    axes.set(xlim=(-0.2, len(axes_names) - 0.8), ylim=(-0.02, 1.02), xticks=xs, yticks=[])
    axes.tick_params(axis="x", pad=14)
    axes.set_xticklabels(axes_names, rotation=20, fontsize=8)
    axes.set_title("All scored trials (each axis scaled to its range)", pad=16)
    return to_png(figure)


def importance_bars(result: Importance) -> bytes:
    """Random-forest importance and correlation with the metric, one bar each per feature (W&B's panel).

    Examples
    --------
    >>> result = Importance("acc", ["lr", "units"], np.array([0.8, 0.2]), np.array([-0.9, np.nan]), 5)
    >>> importance_bars(result)[:4]
    b'\\x89PNG'
    """
    order = np.argsort(result.importance)
    names = [result.features[i] for i in order]
    figure = Figure(figsize=(9, 0.9 + 0.35 * len(names)), layout="constrained")
    importance, correlation = figure.subplots(1, 2, sharey=True)
    importance.barh(names, result.importance[order], color="tab:blue")
    importance.set(xlabel="importance (random forest)", xlim=(0, 1))
    values = np.nan_to_num(result.correlation[order])
    correlation.barh(names, values, color=np.where(values >= 0, "tab:green", "tab:red"))
    for y, value in enumerate(result.correlation[order]):
        if np.isnan(value):
            correlation.text(0, y, " undefined (constant)", va="center", fontsize=7)
    correlation.axvline(0, color="black", lw=0.6)
    correlation.set(xlabel="correlation with the metric (Pearson)", xlim=(-1, 1))
    figure.suptitle(f"Which hyperparameters mattered for {result.metric_name} ({result.n_trials} trials)", fontsize=9)
    return to_png(figure)


def _direction(objective: Objective, axis: str) -> str:
    """An axis label that says which way is better.

    >>> _direction(Objective("acc", "maximize"), "x"), _direction(Objective("size", "minimize"), "y")
    ('acc (maximize: better →)', 'size (minimize: better ↓)')
    """
    arrows = {("x", True): "→", ("x", False): "←", ("y", True): "↑", ("y", False): "↓"}
    return f"{objective.name} ({objective.goal}: better {arrows[axis, objective.maximize]})"


def front_figure(pareto: Pareto, explained: str | None) -> bytes:
    """Every trial scored on both objectives of each pair (grey), the front highlighted (joined in the order of the
    first objective when there are two), the ``explained`` trial ringed; each axis says which way is better.

    Examples
    --------
    >>> from analysis.sources.source import ObjectivePoint
    >>> points = (ObjectivePoint("a", 1, "finished", {}, (0.9, 5.0), True),
    ...           ObjectivePoint("b", 2, "finished", {}, (0.8, 1.0), True),
    ...           ObjectivePoint("c", 3, "finished", {}, (0.7, 3.0), False))
    >>> goals = (Objective("acc", "maximize"), Objective("size"))
    >>> front_figure(Pareto(goals, points, (("a", "b", "c"), ("b", "c", "a"))), "b")[:4]
    b'\\x89PNG'
    """
    count = len(pareto.objectives)
    pairs = [(i, j) for i in range(count) for j in range(i + 1, count)][:PAIRS_SHOWN]
    columns = min(3, len(pairs))
    rows = -(-len(pairs) // columns)
    figure = Figure(figsize=(5 * columns, 4 * rows), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False)
    for axes, (i, j) in zip(grid.ravel(), pairs, strict=False):
        scored = set(pareto.ranked[i]) & set(pareto.ranked[j])
        shown = [p for p in pareto.points if p.run_id in scored]
        front = sorted((p for p in shown if p.on_front), key=lambda p: pareto.objectives[i].sort_key(p.values[i] or 0))
        others = [p for p in shown if not p.on_front]
        axes.scatter(
            [p.values[i] for p in others],
            [p.values[j] for p in others],
            s=18,
            color="tab:gray",
            alpha=0.6,
            label="other trials",
        )
        axes.plot(
            [p.values[i] for p in front],
            [p.values[j] for p in front],
            "o--" if count == 2 else "o",  # with more objectives, a pair's view of the front is no line
            color="tab:red",
            ms=6,
            lw=1,
            label="Pareto front",
        )
        for p in front:
            axes.annotate(
                str(p.number if p.number is not None else p.run_id),
                (p.values[i], p.values[j]),
                xytext=(4, 4),
                textcoords="offset points",
                fontsize=7,
            )
        mine = [p for p in shown if p.run_id == explained]
        axes.scatter(
            [p.values[i] for p in mine],
            [p.values[j] for p in mine],
            s=160,
            facecolors="none",
            edgecolors="black",
            linewidths=1.5,
            label="explained in this report",
        )
        axes.set(xlabel=_direction(pareto.objectives[i], "x"), ylabel=_direction(pareto.objectives[j], "y"))
        axes.legend(fontsize=7)
    for axes in grid.ravel()[len(pairs) :]:
        axes.set_visible(False)
    front_size = sum(p.on_front for p in pareto.points)
    figure.suptitle(f"Pareto front: {front_size} of {len(pareto.points)} trials (labels: trial numbers)", fontsize=10)
    return to_png(figure)
