"""The Pareto front of ``sweeps/pareto.yaml`` (validation accuracy against parameter count) as a figure.

Runs the sweep offline as written (``run_cap`` trials of Optuna's multi-objective TPE, pooled mode, one worker,
``--seed``), then plots every trial and the front (localsweep's own ``localsweep.core.pareto.front``) to a small
PNG, and prints the front as a Markdown table. With ``--sweep``, plots an existing sweep instead of running one.

Run from the repository root (about 3 minutes on 2 cores)::

    .venv/bin/python bench/pareto_figure.py --seed 0 --out bench/results/pareto.png
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # run as a script: make the project's packages importable

from bench.bench_orchestration import environment  # noqa: E402
from localsweep.core import pareto  # noqa: E402
from localsweep.core.trial import Trial  # noqa: E402
from localsweep.storage.store import SweepStore  # noqa: E402

SWEEP = REPO_ROOT / "sweeps" / "pareto.yaml"


def run_sweep(root: Path, name: str, seed: int) -> SweepStore:
    """``sweeps/pareto.yaml`` run offline under ``root``."""
    argv = [sys.executable, "-m", "localsweep", "run", str(SWEEP), "--root", str(root), "--name", name]
    argv += ["--seed", str(seed), "--function", "trainer.train:agent_function"]
    subprocess.run(argv, cwd=REPO_ROOT, env=environment(root / "wandb-home"), check=True, capture_output=True)
    return SweepStore.open(root / name)


def points(store: SweepStore, trials: Sequence[Trial]) -> list[tuple[float, float]]:
    """``(val_accuracy, model_parameters)`` of the trials that measured both, smallest model first."""
    found = []
    for trial in trials:
        accuracy, size = pareto.values(store.config, trial)
        if accuracy is not None and size is not None:
            found.append((accuracy, size))
    return sorted(found, key=lambda p: p[1])


def plot(store: SweepStore, front: Sequence[Trial], out: Path) -> None:
    """Every trial (grey) and the front (a step line through its trials) on a log-scaled parameter count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    accuracy, size = zip(*points(store, store.trials()), strict=True)
    best = points(store, front)
    figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
    axes.scatter(size, accuracy, color="0.6", s=18, label=f"trials ({len(accuracy)})")
    axes.step([p[1] for p in best], [p[0] for p in best], where="post", color="C3", marker="o", label="Pareto front")
    axes.set(xscale="log", xlabel="model_parameters (minimize)", ylabel="val_accuracy (maximize)")
    axes.set_title(f"sweeps/pareto.yaml: {len(front)} of {len(accuracy)} trials on the front", fontsize=10)
    axes.legend(loc="lower right")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(out)
    plt.close(figure)


def front_table(store: SweepStore, front: Sequence[Trial]) -> str:
    """The front as Markdown rows, smallest model first."""
    lines = ["| val_accuracy | model_parameters | units | num_layers | learning_rate |", "|---|---|---|---|---|"]
    by_size = sorted(front, key=lambda t: points(store, [t])[0][1])
    for (accuracy, size), c in zip(points(store, by_size), [t.config for t in by_size], strict=True):
        lines.append(f"| {accuracy:.3f} | {size:,.0f} | {c['units']} | {c['num_layers']} | {c['learning_rate']:.2g} |")
    return "\n".join(lines)


def main() -> None:
    """Run (or open) the sweep, write the figure, print the front."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "results" / "pareto.png")
    parser.add_argument("--sweep", type=Path, help="an existing sweep folder to plot instead of running one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = SweepStore.open(args.sweep) if args.sweep else run_sweep(Path(tmp), "pareto", args.seed)
        front = pareto.front(store.config, store.trials())
        plot(store, front, args.out)
        print(front_table(store, front))
    print(f"\nfigure: {args.out}")


if __name__ == "__main__":
    main()
