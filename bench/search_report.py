"""Tables for bench/bench_search.py: best validation accuracy vs trials and vs compute, medians over seeds.

Pure functions over the trial records (one dict per trial: method, seed, budget, trial, state, val_accuracy,
epochs, wall_s). Trials are in start order; with one worker they ran one after another, so "compute" at trial k
is the sum of the epochs (or wall seconds) of trials 1..k.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

Studies = dict[str, dict[int, list[dict[str, Any]]]]


def studies(records: Sequence[dict[str, Any]]) -> Studies:
    """Records grouped as ``{method: {seed: [trial, ...]}}``, trials in start order."""
    grouped: Studies = defaultdict(lambda: defaultdict(list))
    for record in records:
        grouped[record["method"]][record["seed"]].append(record)
    for by_seed in grouped.values():
        for trials in by_seed.values():
            trials.sort(key=lambda r: r["trial"])
    return grouped


def best_within(trials: Sequence[dict[str, Any]], key: str | None, budget: float) -> float | None:
    """Best val_accuracy of the first trials whose cumulative ``key`` (None: count of trials) stays within budget.

    >>> best_within([{"val_accuracy": 0.5, "epochs": 9}, {"val_accuracy": 0.7, "epochs": 9}], "epochs", 10)
    0.5
    >>> best_within([{"val_accuracy": 0.5, "epochs": 9}, {"val_accuracy": None, "epochs": 1}], None, 2)
    0.5
    """
    spent, best = 0.0, None
    for trial in trials:
        spent += 1.0 if key is None else float(trial[key] or 0.0)
        if spent > budget + 1e-9:
            break
        value = trial["val_accuracy"]
        if value is not None and (best is None or value > best):
            best = value
    return best


def spread(values: Sequence[float | None], digits: int = 3) -> str:
    """``median [min-max]`` over seeds (``n/a`` where a study has no value yet).

    >>> spread([0.9, 0.95, 0.93])
    '0.930 [0.900-0.950]'
    """
    known = [v for v in values if v is not None]
    if len(known) < len(values) or not known:
        return "n/a"
    return f"{statistics.median(known):.{digits}f} [{min(known):.{digits}f}-{max(known):.{digits}f}]"


def _table(grouped: Studies, key: str | None, budgets: Sequence[float], label: str) -> list[str]:
    lines = ["| method | seeds | " + " | ".join(f"{label} ≤ {b:g}" for b in budgets) + " |"]
    lines.append("|---|---|" + "---|" * len(budgets))
    for method, by_seed in grouped.items():
        cells = [spread([best_within(t, key, b) for t in by_seed.values()]) for b in budgets]
        lines.append(f"| {method} | {len(by_seed)} | " + " | ".join(cells) + " |")
    return lines


def _costs(grouped: Studies) -> list[str]:
    lines = [
        "| method | epochs trained | trial wall s (sum) | study wall s | trials stopped early | load avg (1 min) |"
    ]
    lines.append("|---|---|---|---|---|---|")
    for method, by_seed in grouped.items():
        runs = list(by_seed.values())
        stopped = [sum(t["state"] in ("stopped", "pruned") for t in trials) for trials in runs]
        lines.append(
            f"| {method} | {spread([sum(t['epochs'] for t in r) for r in runs], 0)} | "
            f"{spread([sum(t['wall_s'] or 0.0 for t in r) for r in runs], 0)} | "
            f"{spread([r[0]['study_wall_s'] for r in runs], 0)} | {spread(stopped, 0)} | "
            f"{spread([r[0]['loadavg'][0] for r in runs], 1)} |"
        )
    return lines


def stop_epochs(trials: Sequence[dict[str, Any]]) -> str:
    """How many trials stopped early (hyperband, or a pruner) ended after each number of epochs, ``epochs: count``.

    >>> stop_epochs([{"state": "stopped", "epochs": 1}, {"state": "pruned", "epochs": 3},
    ...              {"state": "stopped", "epochs": 1}, {"state": "finished", "epochs": 9}])
    '1: 2, 3: 1'
    """
    counts = Counter(t["epochs"] for t in trials if t["state"] in ("stopped", "pruned"))
    return ", ".join(f"{epochs}: {count}" for epochs, count in sorted(counts.items())) or "-"


def _stops(grouped: Studies) -> list[str]:
    lines = ["| method | early stops, epochs trained: trials (all seeds) |", "|---|---|"]
    for method, by_seed in grouped.items():
        lines.append(f"| {method} | {stop_epochs([t for trials in by_seed.values() for t in trials])} |")
    return lines


def _paired(grouped: Studies, challenger: str, budget: int) -> list[str]:
    if challenger not in grouped:
        return []
    lines = [f"\n{challenger} against each method, same seeds, best after {budget} trials:"]
    theirs = {s: best_within(t, None, budget) for s, t in grouped[challenger].items()}
    for method, by_seed in grouped.items():
        if method == challenger:
            continue
        pairs = [
            (a, b)
            for s, t in by_seed.items()
            if (a := theirs.get(s)) is not None and (b := best_within(t, None, budget)) is not None
        ]
        if pairs:
            wins = sum(a > b for a, b in pairs)
            diff = statistics.median(a - b for a, b in pairs)
            lines.append(
                f"- vs {method}: {challenger} better on {wins}/{len(pairs)} seeds, median difference {diff:+.4f}"
            )
    return lines


def report(records: Sequence[dict[str, Any]], challenger: str = "optuna-tpe-hyperband") -> str:
    """The benchmark's Markdown tables: best val_accuracy vs trials, vs epochs, vs wall seconds; costs; pairs."""
    if not records:
        return "no results yet"
    grouped = studies(records)
    budget = max(r["budget"] for r in records)
    trials = sorted({max(1, budget // 4), max(1, budget // 2), budget})
    epochs_full = 9 * budget  # each trial at most 9 epochs: the compute of `budget` full trials
    epochs = [epochs_full // 4, epochs_full // 2, epochs_full]
    random_wall = [sum(t["wall_s"] or 0.0 for t in r) for r in grouped.get("random", {}).values()]
    wall_full = statistics.median(random_wall) if random_wall else 600.0
    walls = [round(wall_full / 4), round(wall_full / 2), round(wall_full)]
    out = ["Best val_accuracy, median [min-max] over seeds, within a number of trials:", ""]
    out += _table(grouped, None, trials, "trials")
    out += ["", "... within a number of training epochs (all trials' epochs summed):", ""]
    out += _table(grouped, "epochs", epochs, "epochs")
    out += ["", "... within trial wall seconds (summed; budgets: 1/4, 1/2, 1 x random's median total):", ""]
    out += _table(grouped, "wall_s", walls, "s")
    out += ["", "Cost per study:", ""]
    out += _costs(grouped)
    out += [
        "",
        "Where early stops landed (W&B's hyperband and the successive-halving pruner judge at epochs 1, 3, 9):",
        "",
    ]
    out += _stops(grouped)
    out += _paired(grouped, challenger, budget)
    return "\n".join(out)
