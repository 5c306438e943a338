"""A tiny sweep program whose ending the sweep chooses, for the localsweep tests of how trials end.

With ``fail`` it raises ``RuntimeError: boom`` right after ``wandb.init()``. Otherwise it logs ``score`` (the float
of its ``score`` parameter, so ``"nan"`` and ``"inf"`` log a diverged metric) for ``epochs`` steps, sleeping
``sleep`` seconds after each, and finishes its wandb run; with ``exit_after`` it then leaves with
``SystemExit(exit_after)``: a process that fails after its run finished (exit code 1, the message on stderr).
"""

import time

import wandb


def main() -> None:
    """Run one trial; its parameters come from wandb.config, as under `wandb agent`."""
    run = wandb.init(project="endings")
    config = dict(run.config)
    if config.get("fail"):
        raise RuntimeError("boom")
    for step in range(int(config.get("epochs", 1))):
        run.log({"score": float(config.get("score", 1.0)), "epoch": step})
        time.sleep(float(config.get("sleep", 0)))
    run.finish()
    if config.get("exit_after"):
        raise SystemExit(str(config["exit_after"]))


if __name__ == "__main__":
    main()
