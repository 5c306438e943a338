"""The built image on a real engine: lean, bytecode where it pays, code-only rebuilds, no secret in any layer."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from tests.container import IMAGE_UID, BuiltImage, build, copy_checkout, docker, run
from tests.test_reliability_secrets import encodings

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]

SITE = "/opt/venv/lib/python3.11/site-packages"


def image_bytes(tag: str) -> int:
    return int(docker("image", "inspect", "--format", "{{.Size}}", tag).stdout)


def layers(tag: str) -> list[str]:
    found: list[str] = json.loads(docker("image", "inspect", "--format", "{{json .RootFS.Layers}}", tag).stdout)
    return found


def test_image_adds_at_most_1_5_gb_to_its_base_and_carries_no_notebook_stack(docker_image: BuiltImage) -> None:
    python_image = "python:3.11-slim-bookworm"
    added = image_bytes(docker_image.tag) - image_bytes(python_image)
    assert added <= 1.5e9, f"the image adds {added / 1e9:.2f} GB to {python_image}"
    probe = (
        "import importlib.util as u, os; "
        "print([m for m in ('jupyterlab', 'notebook', 'ipykernel', 'IPython', 'clang', 'pip') if u.find_spec(m)]); "
        f"print(os.path.exists('{SITE}/tensorflow/include'), os.getuid())"
    )
    done = run(docker_image.tag, "python", "-c", probe)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", f"False {IMAGE_UID}"]


def test_programs_import_every_installed_module_from_bytecode(docker_image: BuiltImage) -> None:
    # Bytecode was compiled in the build for what the programs import (and nothing else); it is only used if
    # COPY --from kept the sources' mtimes. Only the project's own modules (under /app) are compiled on import.
    imports = "import trainer.train, analysis.report, localsweep.run.controller, localsweep.workers.pool"
    done = run(docker_image.tag, "python", "-v", "-c", imports)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = re.findall(r"^# code object from '?([^'\n]+)'?$", done.stderr, re.MULTILINE)
    from_source = [path for path in loaded if not path.endswith(".pyc")]
    assert len(loaded) > 3000
    assert from_source
    assert all(path.startswith("/app/") for path in from_source), from_source[:5]
    count = "import pathlib; print(sum(1 for _ in pathlib.Path('/opt/venv').rglob('*.pyc')))"
    compiled = int(run(docker_image.tag, "python", "-c", count).stdout)
    assert compiled < 1.5 * (len(loaded) - len(from_source))  # not every module of every package


def test_a_code_only_change_rebuilds_only_the_code_layers(docker_image: BuiltImage, tmp_path: Path) -> None:
    context = copy_checkout(tmp_path / "context")
    with (context / "trainer" / "__main__.py").open("a") as source:
        source.write("# a code-only change\n")
    tag = "mnist-wandb-sweeps:test-code-change"
    try:
        build(context, tag)
        before, after = layers(docker_image.tag), layers(tag)
    finally:
        docker("image", "rm", tag, check=False)
    # The last three layers are the COPYs of trainer/, localsweep/ and analysis/ (nothing after them writes
    # files). The trainer's is new; the base, the venv, the user and folders, the entrypoint and sweeps/ are the
    # very same layers as before (layers are named by the digest of their content).
    assert len(before) == len(after)
    trainer_layer = len(after) - 3
    assert before[:trainer_layer] == after[:trainer_layer]
    assert before[trainer_layer] != after[trainer_layer]


def test_the_key_in_the_build_context_is_in_no_layer_history_or_metadata(docker_image: BuiltImage) -> None:
    key = docker_image.key
    assert key in (docker_image.context / ".env").read_text()  # control: the context held it
    history = docker("history", "--no-trunc", docker_image.tag).stdout
    metadata = docker("image", "inspect", docker_image.tag).stdout
    assert "COPY" in history or "copy" in history
    assert key not in history + metadata
    patterns = encodings(key.encode())
    save = subprocess.Popen(["docker", "save", docker_image.tag], stdout=subprocess.PIPE)
    assert save.stdout is not None
    tail, total, found = b"", 0, []
    overlap = 2 * len(key)
    while chunk := save.stdout.read(1 << 22):
        window = tail + chunk
        found += [p for p in patterns if p in window]
        tail, total = window[-overlap:], total + len(chunk)
    assert save.wait() == 0
    assert total > 1e9  # the whole image was read
    assert found == []
