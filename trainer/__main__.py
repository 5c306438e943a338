"""``python -m trainer [--key=value ...]``: one training run, the program that ``wandb agent`` starts.
``python -m trainer --rerun RUN_DIR [--at-commit] [--out DIR]``: a recorded run trained again and compared with it
(exit 0 identical, 1 differs, 2 cannot rerun; see ``trainer/rerun.py``).

Every ``--key=value`` flag is a TrainConfig field (``python -m trainer --help`` lists them with defaults).
WANDB_MODE: kept if set; otherwise ``online`` when WANDB_API_KEY is set and ``offline`` when not (said on stderr).
Exit codes: 0 done, 2 bad config or dataset, or a run folder it cannot write (one line on stderr), 1 anything else.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import tempfile
from pathlib import Path

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


def _check_run_folder() -> None:
    """Refuse a run wandb could not keep: it writes under WANDB_DIR (default: the working directory) and, when that
    is not writable, silently under the temp dir instead (wandb_init.try_create_root_dir), where a container's
    run is lost when the container goes.

    Raises
    ------
    PermissionError
        If WANDB_DIR (or the working directory) cannot be created or is not readable and writable by this user.
    """
    if os.environ.get("WANDB_MODE") == "disabled":
        return  # nothing is written
    root = Path(os.environ.get("WANDB_DIR") or os.getcwd())
    try:
        root.mkdir(parents=True, exist_ok=True)
        writable = os.access(root, os.R_OK | os.W_OK)
    except OSError:
        writable = False
    if not writable:
        raise PermissionError(
            f"wandb keeps this run under {root} (WANDB_DIR, else the working directory), which uid {os.getuid()} "
            f"cannot write: it would write the run to {tempfile.gettempdir()} instead, lost with a container. "
            "Make that folder writable for this user (with docker run --user, bind-mount a folder of yours "
            "there) or set WANDB_DIR to a writable folder"
        )


def main(argv: list[str]) -> int:
    if any(arg == "--rerun" or arg.startswith("--rerun=") for arg in argv):
        from trainer import rerun  # reads wandb's record format: loaded only for a rerun

        return rerun.main(argv)
    if any(arg in ("-h", "--help") for arg in argv):
        print(_usage())
        return 0
    try:
        overrides = parse_flags(argv)
        check_source(TrainConfig.from_mapping(overrides))
        _check_run_folder()
    except (ValueError, OSError) as exc:
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
