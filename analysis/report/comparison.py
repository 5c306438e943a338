"""The comparison report's figures and sections, from its JSON summary (``analysis.compare``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.figure import Figure

from analysis.report.figures import to_png
from analysis.report.render import Section, measured, number
from analysis.stats.paired import PairedDifference
from contract.objectives import better


def per_class_deltas(per_class: list[dict[str, Any]], names: tuple[str, str]) -> bytes:
    """B minus A per class, for F1 and AUROC, as grouped bars.

    Examples
    --------
    >>> rows = [{"class": 0, "f1": {"delta": 0.1}, "auroc": {"delta": -0.02}}]
    >>> per_class_deltas(rows, ("a", "b"))[:4]
    b'\\x89PNG'
    """
    labels = [str(row["class"]) for row in per_class]
    x = np.arange(len(labels))
    figure = Figure(figsize=(max(5.0, 0.6 * len(labels) + 2), 3.6), layout="constrained")
    axes = figure.subplots()
    for offset, metric in ((-0.2, "f1"), (0.2, "auroc")):
        values = np.array([row[metric]["delta"] if row[metric]["delta"] is not None else np.nan for row in per_class])
        axes.bar(x + offset, np.nan_to_num(values), width=0.4, label=metric)
    axes.axhline(0, color="black", lw=0.6)
    axes.set(xticks=x, xlabel="class", ylabel=f"{names[1]} - {names[0]}")
    axes.set_xticklabels(labels)
    axes.set_title(f"Per class: above 0, {names[1]} is better", fontsize=9)
    axes.legend(fontsize=8)
    return to_png(figure)


def difference_histograms(differences: list[PairedDifference], names: tuple[str, str]) -> bytes:
    """Each paired-bootstrap difference's distribution, with its interval and 0 marked.

    Examples
    --------
    >>> d = PairedDifference("accuracy", 0.9, 0.92, 0.02, 0.01, 0.03, 0.99, np.array([0.01, 0.02, 0.03]))
    >>> difference_histograms([d], ("a", "b"))[:4]
    b'\\x89PNG'
    """
    figure = Figure(figsize=(4 * len(differences), 3.2), layout="constrained")
    for axes, d in zip(np.atleast_1d(figure.subplots(1, len(differences))), differences, strict=True):
        axes.hist(d.resampled, bins=40, color="tab:blue", alpha=0.7)
        axes.axvline(0, color="black", lw=0.8)
        for bound in (d.low, d.high):
            axes.axvline(bound, color="tab:red", ls="--", lw=0.8)
        axes.set_title(f"{d.metric}: {_signed(d.difference)} [{_signed(d.low)}, {_signed(d.high)}]", fontsize=8)
        axes.set_xlabel(f"{names[1]} - {names[0]}", fontsize=8)
    figure.suptitle("Paired bootstrap: the same resampled rows for both models; dashed: the interval", fontsize=9)
    return to_png(figure)


def _signed(value: float) -> str:
    """A difference with its sign, 4 decimals; ``nan`` (undefined) as "undefined".

    >>> _signed(0.01234), _signed(float("nan"))
    ('+0.0123', 'undefined')
    """
    return "undefined" if np.isnan(value) else f"{value:+.4f}"


def _p(value: float | None) -> str:
    """A p-value with 3 significant digits (tiny ones in scientific notation).

    >>> _p(0.0386), _p(1.8e-12), _p(None)
    ('0.0386', '1.8e-12', 'undefined')
    """
    return "undefined" if value is None else f"{value:.3g}"


def _side_rows(summary: dict[str, Any]) -> list[list[str]]:
    rows = []
    for key, name in zip(("a", "b"), summary["names"], strict=True):
        side = summary[key]
        rows.append([name, side["origin"], side["predictions_file"], str(side["rows"]), side["sha256"][:16]])
    return rows


def _sweep_metrics(summary: dict[str, Any]) -> list[Section]:
    """A and B as trials of one sweep: each of its metrics, and which of the two is better on it (none when the
    two are not trials of one sweep)."""
    a, b = summary["names"]
    trial_a, trial_b = summary["a"]["trial"], summary["b"]["trial"]
    if not (trial_a and trial_b) or trial_a["sweep"] != trial_b["sweep"]:
        return []
    rows = []
    for name, metric in trial_a["metrics"].items():
        value_a, value_b = metric["value"], trial_b["metrics"].get(name, {}).get("value")
        winner = ""
        if value_a is not None and value_b is not None:
            ahead = [n for n, x, y in ((a, value_a, value_b), (b, value_b, value_a)) if better(metric["goal"], x, y)]
            winner = ahead[0] if ahead else "tie"
        rows.append([name, metric["goal"], measured(value_a), measured(value_b), winner])
    if trial_a["on_front"] is not None:
        rows.append(["on the Pareto front", "", *("yes" if t["on_front"] else "no" for t in (trial_a, trial_b)), ""])
    numbers = ", ".join(f"trial {t['number']}" for t in (trial_a, trial_b) if t["number"] is not None)
    intro = f"A and B are trials of sweep {trial_a['sweep']}{f' ({numbers})' if numbers else ''}: what each scored."
    return [Section("Sweep metrics", intro, ["metric", "goal", a, b, "better"], rows)]


def sections(summary: dict[str, Any]) -> list[Section]:
    """The comparison report, section by section."""
    a, b = summary["names"]
    test = summary["mcnemar"]
    bootstrap = summary["paired_bootstrap"]
    result = [
        Section(
            "Models",
            f"A = {a}, B = {b}; differences are B - A.",
            ["", "origin", "predictions", "rows", "SHA-256"],
            _side_rows(summary),
        ),
        *_sweep_metrics(summary),
        Section(
            "Verdict",
            f"{summary['rows']} test rows matched by index in both tables.",
            ["finding"],
            [[line] for line in summary["verdict"]],
        ),
        Section(
            "McNemar's test on correctness",
            f"Rows each model gets right; {test['test']}.",
            ["", f"{b} right", f"{b} wrong"],
            [
                [f"{a} right", str(test["both_right"]), str(test["a_only"])],
                [f"{a} wrong", str(test["b_only"]), str(test["both_wrong"])],
                ["p (exact)", _p(test["p_exact"]), ""],
                ["chi2 (corrected), p", number(test["chi2"]), _p(test["p_chi2"])],
            ],
        ),
        Section(
            "Paired bootstrap",
            bootstrap["method"],
            ["metric", a, b, "B - A", "95% CI", f"share of resamples where {b} is better"],
            [
                [
                    d["metric"],
                    number(d["a"]),
                    number(d["b"]),
                    number(d["difference"]),
                    f"[{number(d['low'])}, {number(d['high'])}]",
                    number(d["b_better_share"]),
                ]
                for d in bootstrap["differences"]
            ],
            [("bootstrap_differences", "Paired bootstrap distributions of B - A")],
        ),
    ]
    metrics = ("precision", "recall", "f1", "auroc", "average_precision")
    result.append(
        Section(
            "Per class",
            "Each class one vs rest: B - A (A's value in brackets).",
            ["class", "support", *metrics],
            [
                [str(row["class"]), str(row["support"])]
                + [f"{number(row[m]['delta'])} ({number(row[m]['a'])})" for m in metrics]
                for row in summary["per_class"]
            ],
            [("per_class_deltas", "Per-class F1 and AUROC differences")],
        )
    )
    disagreements = summary["disagreements"]
    result.append(
        Section(
            "Where they disagree",
            f"{disagreements['rows']} rows get different predictions; shown: those where the two models' "
            f"probabilities of the true class differ most.",
            ["index", "y_true", f"{a} predicts", f"{b} predicts", f"{a}: p(y_true)", f"{b}: p(y_true)"],
            [
                [
                    str(r["index"]),
                    str(r["y_true"]),
                    str(r["y_pred_a"]),
                    str(r["y_pred_b"]),
                    number(r["probability_true_a"]),
                    number(r["probability_true_b"]),
                ]
                for r in disagreements["shown"]
            ],
        )
    )
    return result
