"""Render a report summary as Markdown and as one self-contained HTML page, and write them with the JSON."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from typing import Any

_CAPTIONS = {
    "confusion_matrix": "Confusion matrix",
    "roc": "ROC curves (one vs rest)",
    "pr": "Precision-recall curves (one vs rest)",
    "thresholds": "Precision / recall against the threshold",
    "metric_vs_parameters": "Sweep metric against each hyperparameter",
    "parallel_coordinates": "Parallel coordinates of all trials",
}


def number(value: Any) -> str:
    """Format a metric for a table: 4 decimals, integers as they are, ``None`` (undefined) as "undefined".

    Examples
    --------
    >>> number(0.123456), number(None), number(12)
    ('0.1235', 'undefined', '12')
    """
    if value is None:
        return "undefined"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


Section = tuple[str, list[str], list[list[str]], list[str]]


def sections(summary: dict[str, Any]) -> list[Section]:
    """The report as ``(title, table header, table rows, figure names)``, shared by both renderings."""
    run, sweep, provenance = summary["run"], summary["sweep"], summary["provenance"]
    about = [["origin", provenance["origin"]], ["predictions", provenance["predictions_file"]]]
    if run:
        about = [["run", f"{run['name']} ({run['run_id']}, {run['state']})"], ["location", run["location"]], *about]
    if sweep:
        rank = f"{sweep['rank']} of {sweep['scored_trials']} scored trials ({len(sweep['trials'])} in all)"
        about += [
            ["sweep", f"{sweep['name']} ({sweep['sweep_id']}) at {sweep['location']}"],
            ["sweep metric", f"{sweep['metric_name']} ({sweep['goal']})"],
            ["sweep rank", rank],
        ]
    about += [
        ["rows", str(provenance["rows"])],
        ["SHA-256", provenance["sha256"]],
        ["artifact", str(provenance["artifact"])],
        ["created", provenance["created_at"]],
        ["command", provenance["command"]],
        ["versions", ", ".join(f"{k} {v}" for k, v in provenance["versions"].items())],
        *[["note", note] for note in provenance["notes"]],
    ]
    overall = [["accuracy", number(summary["accuracy"])]]
    overall += [[f"AUROC {k} (one vs rest)", number(v)] for k, v in summary["auroc"].items()]
    for average, values in summary["averages"].items():
        overall += [[f"{name} {average}", number(value)] for name, value in values.items()]
    labels = [str(label) for label in summary["classes"]]
    counts = [[label, *map(str, row)] for label, row in zip(labels, summary["confusion_matrix"]["counts"], strict=True)]
    columns = ["class", "precision", "recall", "f1", "support", "auroc", "average_precision"]
    per_class = [[number(row[column]) for column in columns] for row in summary["per_class"]]
    point_header = ["operating point", "threshold", "precision", "recall", "f1"]
    errors = [[number(value) for value in error.values()] for error in summary["most_confident_errors"]]
    result: list[Section] = [
        ("Run and provenance", ["", ""], about, []),
        ("Overall", ["metric", "value"], overall, []),
        (
            "Confusion matrix (rows: true class, columns: predicted class)",
            ["true \\ predicted", *labels],
            counts,
            ["confusion_matrix"],
        ),
        ("Per class", columns, per_class, ["roc", "pr"]),
        ("Decision threshold", point_header, _points(summary), ["thresholds"]),
    ]
    if sweep:
        trials = [
            [
                t["run_id"],
                t["state"],
                number(t["metric_value"]),
                *(json.dumps(t["config"].get(p)) for p in sweep["parameters"]),
            ]
            for t in sweep["trials"]
        ]
        result.append(
            (
                "Sweep trials",
                ["run", "state", sweep["metric_name"], *sweep["parameters"]],
                trials,
                ["metric_vs_parameters", "parallel_coordinates"],
            )
        )
    if run:
        result.append(("Config", ["key", "value"], [[k, json.dumps(v)] for k, v in sorted(run["config"].items())], []))
    result.append(("Most confident mistakes", ["index", "y_true", "y_pred", "probability"], errors, []))
    undefined = [[key, reason] for key, reason in summary["undefined"].items()]
    undefined += [["note", note] for note in summary["notes"]]
    if undefined:
        result.append(("Undefined values and notes", ["metric", "why"], undefined, []))
    return result


def _points(summary: dict[str, Any]) -> list[list[str]]:
    thresholds = summary["thresholds"]
    rows = [("best F1", thresholds["best_f1"], "best_f1")]
    for target in ("precision", "recall"):
        requested = thresholds[f"target_{target}"]["requested"]
        if requested is not None:
            rows.append((f"{target} >= {requested}", thresholds[f"target_{target}"]["point"], f"for_{target}"))
    positive = thresholds["positive_class"]
    return [
        [f"class {positive}: {name}", *(number(point[k]) for k in ("threshold", "precision", "recall", "f1"))]
        if point
        else [f"class {positive}: {name}", f"undefined: {thresholds['reasons'].get(key, '')}", "", "", ""]
        for name, point, key in rows
    ]


def _title(summary: dict[str, Any]) -> str:
    run = summary["run"]
    return f"Best-run report: {run['name']}" if run else "Predictions report"


def render_markdown(summary: dict[str, Any], image_files: dict[str, str]) -> str:
    """The report as Markdown, with images referenced by their file names."""
    lines = [f"# {_title(summary)}", ""]
    for title, header, rows, figures in sections(summary):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
        lines.append("")
        lines += [f"![{_CAPTIONS[name]}]({image_files[name]})\n" for name in figures if name in image_files]
    return "\n".join(lines)


def render_html(summary: dict[str, Any], images: dict[str, bytes]) -> str:
    """The report as one HTML page; every image is embedded as a base64 ``data:`` URI."""
    body = [f"<h1>{html.escape(_title(summary))}</h1>"]
    for title, header, rows, figures in sections(summary):
        body.append(f"<h2>{html.escape(title)}</h2>\n<table>")
        body.append("<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in header) + "</tr>")
        body += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows]
        body.append("</table>")
        for name in (name for name in figures if name in images):
            caption = html.escape(_CAPTIONS[name])
            data = base64.b64encode(images[name]).decode("ascii")
            body.append(
                f'<figure id="{name}"><img alt="{caption}" src="data:image/png;base64,{data}">'
                f"<figcaption>{caption}</figcaption></figure>"
            )
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #ccc;padding:2px 8px;"
        "text-align:right;font-size:13px;overflow-wrap:anywhere}td:first-child{text-align:left}img{max-width:100%}"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(_title(summary))}</title>\n<style>{style}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def write_report(summary: dict[str, Any], images: dict[str, bytes], directory: Path) -> dict[str, Path]:
    """Write ``report.html``, ``report.md``, ``report.json`` and the PNGs into ``directory``; return the paths."""
    directory.mkdir(parents=True, exist_ok=True)
    image_files = {name: f"{re.sub(r'[^a-z0-9_]', '_', name)}.png" for name in images}
    for name, file in image_files.items():
        (directory / file).write_bytes(images[name])
    paths = {kind: directory / f"report.{kind}" for kind in ("html", "md", "json")}
    paths["html"].write_text(render_html(summary, images), encoding="utf-8")
    paths["md"].write_text(render_markdown(summary, image_files), encoding="utf-8")
    paths["json"].write_text(json.dumps(summary, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return paths
