"""A tiny sweep program for the localsweep tests: echoes what it received, logs a fake per-epoch metric.

It records its argv, the parameter file variables and ``wandb.config`` to ``echo-<run id>.json`` beside the
sweep's wandb folder, then logs ``score`` for ``epochs`` steps (``score = x * (step + 1)``; with a parameter
``k``, also ``cost = x ** 2 + k``, a second objective at odds with the first) and, when asked, raises or sleeps
between steps (so early termination has something to stop). It also raises when ``ECHO_FAIL_X`` equals its ``x``:
a failure whose cause lies outside the sweep (fixed by unsetting it). Like an argparse program, it refuses a
``--typo...`` argument with exit code 2 before it starts a run.
"""

import json
import os
import sys
import time
from pathlib import Path

import wandb


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
    run.finish()


if __name__ == "__main__":
    main()
