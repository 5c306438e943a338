"""The best-run report's sections (tables, one-line explanations, figures), built from its JSON summary."""

from __future__ import annotations

import json
from typing import Any

from analysis.report import front
from analysis.report.render import Section, interval, measured, number
from analysis.report.summary import HEADLINE


def title(summary: dict[str, Any]) -> str:
    """The report's title: a trial asked for by id or number is not called the best run.

    >>> title({"run": {"name": "glad-sun-3"}}), title({"run": None})
    ('Best-run report: glad-sun-3', 'Predictions report')
    >>> title({"run": {"name": "glad-sun-3"}, "selection": {"kind": "trial"}})
    'Trial report: glad-sun-3'
    """
    run = summary["run"]
    if not run:
        return "Predictions report"
    asked = (summary.get("selection") or {}).get("kind") == "trial"
    return f"{'Trial' if asked else 'Best-run'} report: {run['name']}"


def _about(summary: dict[str, Any]) -> Section:
    run, sweep, provenance = summary["run"], summary["sweep"], summary["provenance"]
    rows = [["origin", provenance["origin"]], ["predictions", provenance["predictions_file"]]]
    if run:
        rows = [["run", f"{run['name']} ({run['run_id']}, {run['state']})"], ["location", run["location"]], *rows]
    if sweep:
        rank = f"{sweep['rank']} of {sweep['scored_trials']} scored trials ({len(sweep['trials'])} in all)"
        rows.append(["sweep", f"{sweep['name']} ({sweep['sweep_id']}) at {sweep['location']}"])
        if "pareto" not in summary:  # several metrics: front.provenance_rows says each
            rows += [["sweep metric", f"{sweep['metric_name']} ({sweep['goal']})"], ["sweep rank", rank]]
        rows += front.provenance_rows(summary)
    schema = provenance["predictions_schema"]
    rows += [
        ["rows", str(provenance["rows"])],
        ["SHA-256", provenance["sha256"]],
        ["artifact", str(provenance["artifact"])],
        ["predictions schema", "not declared (a plain file)" if schema is None else f"version {schema}"],
        ["created", provenance["created_at"]],
        ["command", provenance["command"]],
        ["reproduced", summary["reproduced"]["line"]],
        ["versions", ", ".join(f"{k} {v}" for k, v in provenance["versions"].items())],
        *[["note", note] for note in provenance["notes"]],
    ]
    return Section(
        "Run and provenance", "Which predictions this report explains, and where they came from.", ["", ""], rows
    )


def _overall(summary: dict[str, Any]) -> Section:
    uncertainty = summary["uncertainty"]
    intervals = uncertainty.get("intervals", {})
    rows = [[name, number(summary["headline"][key]), interval(intervals.get(key))] for key, name in HEADLINE]
    calibration = summary["calibration"]
    rows += [
        ["Brier score", number(calibration["brier"]), ""],
        ["log-loss", number(calibration["log_loss"]), ""],
        ["ECE, top label", number(calibration["top_label"]["ece"]), ""],
    ]
    if "skipped" in uncertainty:
        intro = f"Headline metrics on all {summary['provenance']['rows']} rows; no intervals: {uncertainty['skipped']}."
    else:
        intro = f"Headline metrics on all {summary['provenance']['rows']} rows; 95% CI: {uncertainty['method']}."
        if uncertainty["note"]:
            intro += f" {uncertainty['note']}"
    return Section("Overall", intro, ["metric", "value", "95% CI"], rows)


def _confusion(summary: dict[str, Any]) -> list[Section]:
    labels = [str(label) for label in summary["classes"]]
    counts = [[label, *map(str, row)] for label, row in zip(labels, summary["confusion_matrix"]["counts"], strict=True)]
    pairs = [
        [f"{c['true']} → {c['predicted']}", str(c["count"]), number(c["share_of_class"]), number(c["share_of_errors"])]
        for c in summary["errors"]["top_confusions"]
    ]
    return [
        Section(
            "Confusion matrix",
            "Rows: true class, columns: predicted class; the heatmap's colour is the share of the true class.",
            ["true \\ predicted", *labels],
            counts,
            [("confusion_matrix", "Confusion matrix")],
        ),
        Section(
            "Top confusions",
            "The most frequent mistakes as (true → predicted) pairs.",
            ["true → predicted", "rows", "share of the true class", "share of all errors"],
            pairs,
        ),
    ]


def _per_class(summary: dict[str, Any]) -> Section:
    columns = ["precision", "recall", "f1", "support", "auroc", "average_precision", "ece"]
    rows = []
    for row in summary["per_class"]:
        cells = [number(row["class"])]
        for column in columns:
            cell = number(row[column])
            if column in ("f1", "auroc", "average_precision") and "intervals" in row:
                cell += f" {interval(row['intervals'][column])}"
            cells.append(cell)
        rows.append(cells)
    intro = "One vs rest for each class; F1, AUROC and average precision with their 95% CI."
    if "skipped" in summary["uncertainty"]:
        intro = "One vs rest for each class (no intervals: see Overall)."
    return Section(
        "Per class",
        intro,
        ["class", *columns],
        rows,
        [("roc", "ROC curves (one vs rest)"), ("pr", "Precision-recall curves (one vs rest)")],
    )


def _calibration(summary: dict[str, Any]) -> Section:
    c = summary["calibration"]
    top = c["top_label"]
    bins = top["bins"]
    rows = [
        [number(rows), number(predicted), number(observed), number(observed - predicted)]
        for rows, predicted, observed in zip(bins["rows"], bins["mean_predicted"], bins["observed"], strict=True)
    ]
    intro = (
        f"Do the probabilities mean what they say? Top label: ECE {number(top['ece'])}, MCE {number(top['mce'])}; "
        f"each class vs rest: mean ECE {number(c['classwise_ece'])}; Brier {number(c['brier'])}, log-loss "
        f"{number(c['log_loss'])}. Binning: {c['binning']}. Table: the top label's non-empty bins."
    )
    return Section(
        "Calibration",
        intro,
        ["rows", "mean confidence", "accuracy", "accuracy - confidence"],
        rows,
        [
            ("reliability", "Reliability diagram of the top label"),
            ("reliability_per_class", "Reliability diagrams of each class (one vs rest)"),
        ],
    )


def _thresholds(summary: dict[str, Any]) -> Section:
    thresholds = summary["thresholds"]
    points = [("best F1", thresholds["best_f1"], "best_f1")]
    for target in ("precision", "recall"):
        requested = thresholds[f"target_{target}"]["requested"]
        if requested is not None:
            points.append((f"{target} >= {requested}", thresholds[f"target_{target}"]["point"], f"for_{target}"))
    positive = thresholds["positive_class"]
    rows = [
        [f"class {positive}: {name}", *(number(point[k]) for k in ("threshold", "precision", "recall", "f1"))]
        if point
        else [f"class {positive}: {name}", f"undefined: {thresholds['reasons'].get(key, '')}", "", "", ""]
        for name, point, key in points
    ]
    return Section(
        "Decision threshold",
        f"Class {positive} against the rest: what predicting it at probability >= threshold gives.",
        ["operating point", "threshold", "precision", "recall", "f1"],
        rows,
        [("thresholds", "Precision / recall against the threshold")],
    )


def _mistakes(summary: dict[str, Any]) -> Section:
    rows = [
        [str(e["index"]), str(e["y_true"]), str(e["y_pred"]), number(e["probability"]), number(e["probability_true"])]
        for e in summary["errors"]["most_confident"]
    ]
    return Section(
        "Most confident mistakes",
        f"The wrong predictions the model was surest of. Images: {summary['errors']['gallery']}.",
        ["index", "y_true", "y_pred", "probability of y_pred", "probability of y_true"],
        rows,
        [("gallery", "Most confident mistakes: the test images")],
    )


def _sweep(summary: dict[str, Any]) -> list[Section]:
    sweep, pareto = summary["sweep"], summary.get("pareto")
    metrics = [sweep["metric_name"]]
    values = {t["run_id"]: [number(t["metric_value"])] for t in sweep["trials"]}
    if pareto:  # every objective, and the front
        metrics = [o["name"] for o in pareto["objectives"]] + ["front"]
        values = {
            t["run_id"]: [*(measured(v) for v in t["metrics"].values()), "*" if t["on_front"] else ""]
            for t in pareto["trials"]
        }
    trials = [
        [
            t["run_id"],
            t["state"],
            *values.get(t["run_id"], [""] * len(metrics)),
            *(json.dumps(t["config"].get(p), ensure_ascii=False) for p in sweep["parameters"]),
        ]
        for t in sweep["trials"]
    ]
    importance = sweep["importance"]
    if "skipped" in importance:
        features, intro = [], f"Not computed: {importance['skipped']}."
    else:
        features = [
            [f["feature"], number(f["importance"]), number(f["correlation"])]
            for f in sorted(importance["features"], key=lambda f: -(f["importance"] or 0))
        ]
        intro = f"{importance['method']}; {importance['trials']} scored trials."
    return [
        Section(
            "Sweep trials",
            f"Every trial of the sweep, best first by {sweep['metric_name']} ({sweep['goal']}).",
            ["run", "state", *metrics, *sweep["parameters"]],
            trials,
            [
                ("metric_vs_parameters", "Sweep metric against each hyperparameter"),
                ("parallel_coordinates", "Parallel coordinates of all trials"),
            ],
        ),
        Section(
            "Parameter importance",
            intro,
            ["feature", "importance", "correlation"],
            features,
            [("importance", "Parameter importance and correlation with the sweep metric")],
        ),
    ]


def sections(summary: dict[str, Any]) -> list[Section]:
    """The report, section by section, in reading order (a sweep with several objectives opens with its front)."""
    result = [
        *front.sections(summary),
        _about(summary),
        _overall(summary),
        *_confusion(summary),
        _per_class(summary),
        _calibration(summary),
    ]
    result += [_thresholds(summary), _mistakes(summary)]
    if summary["sweep"]:
        result += _sweep(summary)
    run = summary["run"]
    if run:
        config = [[k, json.dumps(v, ensure_ascii=False)] for k, v in sorted(run["config"].items())]
        result.append(Section("Config", "The run's full configuration.", ["key", "value"], config))
    undefined = [[key, reason] for key, reason in summary["undefined"].items()]
    undefined += [["note", note] for note in summary["notes"]]
    undefined += [[f"interval of {key}", why] for key, why in summary["uncertainty"].get("undefined", {}).items()]
    if undefined:
        result.append(Section("Undefined values and notes", "Why a value is missing.", ["metric", "why"], undefined))
    return result
