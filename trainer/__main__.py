"""``python -m trainer [--key=value ...]``: one training run, the program that ``wandb agent`` starts.

Every ``--key=value`` flag is a TrainConfig field (``python -m trainer --help`` lists them with defaults).
WANDB_MODE: kept if set; otherwise ``online`` when WANDB_API_KEY is set and ``offline`` when not (said on stderr).
Exit codes: 0 done, 2 bad config or dataset (one line on stderr), 1 anything else.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys

from trainer.config import TrainConfig, parse_flags
from trainer.data import check_source


def _usage() -> str:
    fields = "\n".join(
        f"  --{f.name}={f.default!r}" if isinstance(f.default, str) else f"  --{f.name}={f.default}"
        for f in dataclasses.fields(TrainConfig)
    )
    doc = __doc__ or ""
    return f"{doc.strip()}\n\nFlags and their defaults:\n{fields}\n"


def _choose_wandb_mode() -> None:
    if os.environ.get("WANDB_MODE"):
        return
    if os.environ.get("WANDB_API_KEY"):
        os.environ["WANDB_MODE"] = "online"
    else:
        os.environ["WANDB_MODE"] = "offline"
        print(
            "trainer: WANDB_MODE is not set and no WANDB_API_KEY is configured: running offline "
            "(set WANDB_MODE=online and WANDB_API_KEY to log to W&B; `wandb sync` uploads offline runs later)",
            file=sys.stderr,
        )


def main(argv: list[str]) -> int:
    if any(arg in ("-h", "--help") for arg in argv):
        print(_usage())
        return 0
    try:
        overrides = parse_flags(argv)
        check_source(TrainConfig.from_mapping(overrides))
    except (ValueError, FileNotFoundError) as exc:
        print(f"trainer: error: {exc}", file=sys.stderr)
        return 2
    _choose_wandb_mode()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from trainer.train import StopRequest, TrainingStoppedError, train  # TensorFlow loads here, after the checks

    # `wandb agent` stops a run with SIGTERM, `docker stop` (through dumb-init) and Ctrl-C with SIGINT: end the
    # training at the next batch and finish the wandb run, instead of dying mid-write.
    stop = StopRequest()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        result = train(overrides, stop=stop)
    except (ValueError, FileNotFoundError) as exc:
        print(f"trainer: error: {exc}", file=sys.stderr)
        return 2
    except TrainingStoppedError as exc:
        print(f"trainer: {exc}: the wandb run was finished and marked preempted", file=sys.stderr)
        return exc.exit_code
    metrics = ", ".join(f"{k}={v:.4f}" for k, v in result.summary.items())
    print(f"run {result.run_id} finished ({os.environ['WANDB_MODE']}): {metrics}")
    print(f"run dir:     {result.run_dir}")
    print(f"predictions: {result.predictions_path}")
    if result.model_path:
        print(f"model:       {result.model_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
