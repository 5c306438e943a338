"""A tiny sweep program for the localsweep tests: echoes what it received, logs a fake per-epoch metric.

It records its argv, the parameter file variables and ``wandb.config`` to ``echo-<run id>.json`` beside the
sweep's wandb folder, then logs ``score`` for ``epochs`` steps (``score = x * (step + 1)``; with a parameter
``k``, also ``cost = x ** 2 + k``, a second objective at odds with the first) and, when asked, raises or sleeps
between steps (so early termination has something to stop). With a parameter ``rows``, it writes a predictions
table of that many rows (two classes; how sure and which rows are wrong depend on ``x``) and logs it as the trainer
does, so the report can explain the trial. It also raises when ``ECHO_FAIL_X`` equals its ``x``:
a failure whose cause lies outside the sweep (fixed by unsetting it). Like an argparse program, it refuses a
``--typo...`` argument with exit code 2 before it starts a run.
"""

import json
import os
import sys
import time
from pathlib import Path

import wandb

from contract import predictions as schema


def main() -> None:
    """Run one trial: wandb.init reads the sweep parameters exactly as under `wandb agent`."""
    typos = [arg for arg in sys.argv[1:] if arg.startswith("--typo")]
    if typos:
        print(f"echo_config.py: error: unrecognized arguments: {' '.join(typos)}", file=sys.stderr)
        sys.exit(2)
    run = wandb.init(project="echo-project")
    config = dict(run.config)
    record = {
        "argv": sys.argv[1:],
        "config": config,
        "env": {
            k: os.environ.get(k)
            for k in (
                "WANDB_MODE",
                "WANDB_RUN_ID",
                "WANDB_SWEEP_ID",
                "LOCALSWEEP_SWEEP_ID",
                "WANDB_DIR",
                "LOCALSWEEP_OBJECTIVE",
            )
        },
        "param_file": Path(os.environ["WANDB_SWEEP_PARAM_PATH"]).read_text(),
        "run_id": run.id,
        "run_sweep_id": run.sweep_id,
        "project": run.project,
        "threads": os.environ.get("OMP_NUM_THREADS"),
        "pid": os.getpid(),
    }
    Path(os.environ["WANDB_DIR"], f"echo-{run.id}.json").write_text(json.dumps(record))
    x = float(config.get("x", 0))
    if config.get("fail") or os.environ.get("ECHO_FAIL_X") == str(config.get("x")):
        raise RuntimeError(f"asked to fail with x={config.get('x')}")
    for step in range(int(config.get("epochs", 1))):
        costs = {"cost": x**2 + float(config["k"])} if "k" in config else {}
        run.log({"score": x * (step + 1), "epoch": step, **costs})
        time.sleep(float(config.get("sleep", 0)))
    if "rows" in config:
        log_predictions(run, int(config["rows"]), x)
    run.finish()


def log_predictions(run: wandb.Run, rows: int, x: float) -> None:
    """A valid predictions table of ``rows`` rows, logged as the trainer logs its own (``contract.predictions``)."""
    sure = 0.55 + 0.4 * min(max(x, 0.0), 1.0)
    lines = [",".join(schema.columns(range(2)))]
    for i in range(rows):
        y_true = i % 2
        wrong = (i + int(10 * x)) % 5 == 0
        p_1 = sure if (y_true == 1) != wrong else 1 - sure
        lines.append(f"{i},{y_true},{int(p_1 > 0.5)},{1 - p_1!r},{p_1!r}")
    path = Path(run.dir) / schema.FILE_NAME
    path.write_text("\n".join(lines) + "\n")
    artifact = wandb.Artifact(
        schema.artifact_name(run.id), type=schema.ARTIFACT_TYPE, metadata=schema.artifact_metadata({})
    )
    artifact.add_file(str(path), policy="immutable")
    run.log_artifact(artifact)


if __name__ == "__main__":
    main()
