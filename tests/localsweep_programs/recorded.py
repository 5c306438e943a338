"""A tiny program that records what a rerun compares, as the trainer does (``contract.reproduce``), in a second.

Its numbers depend on its parameters (``x``, ``epochs``, ``rows``), on ``SCALE`` below (a change of code), on the
bytes of the file its ``data_path`` parameter names (a change of data) and on the version of the package
``recordedpkg`` when one is installed (a change of package). Its provenance records the last three as the trainer
records them (the data's SHA-256, the git commit and dirty flag of this file's repository, package versions), with
the machine facts. It logs ``score`` per epoch with ``epoch``, ``test/accuracy``, and a predictions table of ``rows``
rows (default 20) logged as the trainer logs its own. Run as a script, or as ``main`` in a pooled worker.
"""

import hashlib
import importlib.metadata
import subprocess
from pathlib import Path

import wandb

from contract import predictions as schema
from contract import reproduce

SCALE = 1.0


def _git(*args: str) -> str:
    here = Path(__file__).resolve().parent
    return subprocess.run(["git", "-C", str(here), *args], capture_output=True, text=True, check=True).stdout.strip()


def _code() -> dict[str, object]:
    try:
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
        return {"commit": _git("rev-parse", "HEAD"), "dirty": dirty, "repo": _git("rev-parse", "--show-toplevel")}
    except (OSError, subprocess.CalledProcessError):
        return {}


def main() -> None:
    """One run: ``wandb.init`` reads the parameters as under ``wandb agent``."""
    run = wandb.init(project="recorded")
    config = dict(run.config)
    x = float(config.get("x", 0.5)) * SCALE
    digests, packages = {}, {}
    if config.get("data_path"):
        data = Path(str(config["data_path"])).read_bytes()
        digests["data"] = hashlib.sha256(data).hexdigest()
        x += sum(data) % 7 / 100
    try:
        packages["recordedpkg"] = importlib.metadata.version("recordedpkg")
        x += float(packages["recordedpkg"].split(".")[0]) / 100
    except importlib.metadata.PackageNotFoundError:
        pass
    provenance = {"data_sha256": digests, "code": _code(), "packages": packages, **reproduce.machine()}
    run.config.update({reproduce.PROVENANCE: provenance}, allow_val_change=True)
    for epoch in range(1, int(config.get("epochs", 1)) + 1):
        run.log({"score": x * epoch, "epoch": epoch})
    rows = int(config.get("rows", 20))
    wrong = [(i + int(100 * x)) % 5 == 0 for i in range(rows)]
    run.summary["test/accuracy"] = 1 - sum(wrong) / rows
    sure = 0.55 + 0.4 * min(max(x % 1, 0.0), 1.0)
    lines = [",".join(schema.columns(range(2)))]
    for i in range(rows):
        p_1 = sure if (i % 2 == 1) != wrong[i] else 1 - sure
        lines.append(f"{i},{i % 2},{int(p_1 > 0.5)},{1 - p_1!r},{p_1!r}")
    path = Path(run.dir) / schema.FILE_NAME
    path.write_text("\n".join(lines) + "\n")
    artifact = wandb.Artifact(schema.artifact_name(run.id), type=schema.ARTIFACT_TYPE)
    artifact.add_file(str(path), policy="immutable")
    run.log_artifact(artifact)
    run.finish()


if __name__ == "__main__":
    main()
