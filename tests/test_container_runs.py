"""Runs in the real image: where the trainer writes under --user, a named volume and --read-only; docker stop.

Each run is the real trainer offline (1 epoch on 300 MNIST rows, ~10 s), with --network none.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localsweep.core.runlog import iter_records, read_run
from tests.container import (
    IMAGE_UID,
    OTHER_UID,
    TRAIN,
    ArgvSampler,
    BuiltImage,
    Volumes,
    docker,
    owned_folder,
    run,
    wait_for,
)
from tests.test_reliability_secrets import encodings

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]

OFFLINE = ("-e", "WANDB_MODE=offline")


@pytest.fixture
def volumes() -> Iterator[Volumes]:
    made = Volumes()
    yield made
    made.remove()


def the_run(runs: Path) -> Path:
    """The one offline run dir under a runs folder (the image's WANDB_DIR, /app/runs)."""
    (run_dir,) = (runs / "wandb").glob("offline-run-*")
    return run_dir


def assert_run_kept(runs: Path) -> list[Path]:
    """The run finished and wrote its record, predictions.csv (MNIST's test set) and model; returns those files."""
    run_dir = the_run(runs)
    record = read_run(run_dir)
    assert record.exit_code == 0
    assert {a.type for a in record.artifacts} == {"predictions", "model"}
    files = [run_dir / "files" / "predictions.csv", run_dir / "files" / "model.keras", *run_dir.glob("run-*.wandb")]
    assert all(path.is_file() for path in files), files
    assert len(files[0].read_text().splitlines()) == 10_001
    return files


def assert_key_absent(key: str, *texts: str, folder: Path | None = None) -> None:
    patterns = encodings(key.encode())
    assert not any(p in text.encode() for text in texts for p in patterns)
    files = [p for p in folder.rglob("*") if p.is_file()] if folder else []
    assert [str(p) for p in files if any(pattern in p.read_bytes() for pattern in patterns)] == []


def run_watched(image: str, *command: str, options: tuple[str, ...]) -> tuple[int, str, str, list[str]]:
    """Run detached, sampling every process's argv (docker top) until it exits: exit code, logs, inspect, argv."""
    container = docker("run", "-d", "--network", "none", *options, image, *command).stdout.strip()
    sampler = ArgvSampler(container)
    try:
        code = int(docker("wait", container).stdout)
    finally:
        sampler.stop()
    logs = docker("logs", container)
    inspect = docker("inspect", container).stdout
    docker("rm", container)
    return code, logs.stdout + logs.stderr, inspect, sampler.samples


def test_trainer_writes_into_a_bind_mount_as_the_calling_user_with_the_key_from_a_0400_file(
    docker_image: BuiltImage, tmp_path: Path
) -> None:
    key = docker_image.key
    runs = owned_folder(tmp_path / "runs", OTHER_UID)
    secret = owned_folder(tmp_path / "secrets", 0) / "wandb_api_key"
    secret.write_text(key + "\n")
    os.chown(secret, OTHER_UID, OTHER_UID)
    secret.chmod(0o400)
    options = (
        "--user", f"{OTHER_UID}:{OTHER_UID}", *OFFLINE, "-e", "WANDB_API_KEY_FILE=/run/secrets/wandb_api_key",
        "-v", f"{runs}:/app/runs", "-v", f"{secret}:/run/secrets/wandb_api_key:ro",
    )  # fmt: skip
    code, logs, inspect, argv = run_watched(docker_image.tag, *TRAIN, options=options)
    assert code == 0, logs[-3000:]
    assert all(path.stat().st_uid == OTHER_UID for path in assert_run_kept(runs))
    assert any("python -m trainer" in sample for sample in argv)  # control: the sampler saw the run
    assert "WANDB_API_KEY_FILE=/run/secrets/wandb_api_key" in inspect
    assert_key_absent(key, logs, inspect, *argv, folder=runs)


def test_trainer_writes_into_a_named_volume_as_the_image_user_with_the_key_from_env(
    docker_image: BuiltImage, tmp_path: Path, volumes: Volumes
) -> None:
    key = docker_image.key
    volume = volumes.new()
    options = (*OFFLINE, "-e", f"WANDB_API_KEY={key}", "-v", f"{volume}:/app/runs")
    code, logs, _, argv = run_watched(docker_image.tag, *TRAIN, options=options)
    assert code == 0, logs[-3000:]
    runs = volumes.copy_out(volume, tmp_path / "runs", docker_image.tag)
    assert_run_kept(runs)
    # docker cp hands the copies to root: who owns the files is asked inside.
    others = run(
        docker_image.tag, "find", "/app/runs", "!", "-user", str(IMAGE_UID), options=("-v", f"{volume}:/app/runs")
    )
    assert (others.returncode, others.stdout) == (0, "")
    assert any("python -m trainer" in sample for sample in argv)
    assert_key_absent(key, logs, *argv, folder=runs)


def test_read_only_container_keeps_the_run_with_a_tmpfs_and_refuses_clearly_without(
    docker_image: BuiltImage, tmp_path: Path, volumes: Volumes
) -> None:
    volume = volumes.new()
    read_only = ("--read-only", *OFFLINE, "-v", f"{volume}:/app/runs")
    refused = run(docker_image.tag, *TRAIN, options=read_only)
    assert refused.returncode == 64
    assert "/tmp is not writable (a --read-only container?)" in refused.stderr
    assert "--tmpfs /tmp" in refused.stderr
    done = run(docker_image.tag, *TRAIN, options=("--tmpfs", "/tmp", *read_only))
    assert done.returncode == 0, done.stderr[-3000:]
    assert_run_kept(volumes.copy_out(volume, tmp_path / "runs", docker_image.tag))  # one run: none from the refusal


def test_trainer_refuses_a_run_folder_it_cannot_write_instead_of_losing_the_run(docker_image: BuiltImage) -> None:
    # --user without a folder of that user's at /app/runs: wandb would fall back to /tmp and exit 0.
    done = run(docker_image.tag, *TRAIN, options=("--user", f"{OTHER_UID}:{OTHER_UID}", *OFFLINE))
    assert done.returncode == 2
    assert f"under /app/runs (WANDB_DIR, else the working directory), which uid {OTHER_UID} cannot write" in done.stderr


def test_docker_stop_of_a_long_run_finishes_it_marked_preempted_within_the_grace_period(
    docker_image: BuiltImage, tmp_path: Path
) -> None:
    runs = owned_folder(tmp_path / "runs", IMAGE_UID)
    long_run = ("python", "-m", "trainer", "--epochs=200", "--train_size=5000", "--save_model=false")
    container = docker(
        "run", "-d", "--network", "none", *OFFLINE, "-v", f"{runs}:/app/runs", docker_image.tag, *long_run
    )
    name = container.stdout.strip()
    try:
        wait_for(lambda: list(runs.glob("wandb/offline-run-*/run-*.wandb")), 120, "the run to start")
        time.sleep(4)  # into training: each epoch is well under a second
        grace = 60
        started = time.monotonic()
        docker("stop", "--time", str(grace), name, timeout=grace + 30)
        took = time.monotonic() - started
        code = int(docker("wait", name).stdout)
        logs = docker("logs", name)
    finally:
        docker("rm", "--force", name, check=False)
    assert took < grace  # stopped by the signal, not killed at the end of the grace period
    assert code == 128 + signal.SIGINT, logs.stderr[-3000:]  # dumb-init turns docker stop's SIGTERM into SIGINT
    assert "stopped by SIGINT: the wandb run was finished and marked preempted" in logs.stderr
    run_dir = the_run(runs)
    record = read_run(run_dir)
    assert record.exit_code == 128 + signal.SIGINT
    assert 1 <= len(record.history) < 200
    kinds = [r.WhichOneof("record_type") for r in iter_records(next(run_dir.glob("run-*.wandb")))]
    assert "preempting" in kinds


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (("id",), f"uid={IMAGE_UID}(sweeps)"),
        (("bash", "-c", "echo $((6 * 7))"), "42"),
        (("python", "-V"), "Python 3.11."),
        (("--help",), "Usage: wandb agent [OPTIONS] SWEEP_ID"),
        (("python", "-m", "trainer", "--help"), "--learning_rate="),
    ],
)
def test_inspection_commands_run_without_a_key(
    docker_image: BuiltImage, command: tuple[str, ...], expected: str
) -> None:
    done = run(docker_image.tag, *command)
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ((), "no sweep id: pass it as the argument"),
        (("me/proj/abcd1234",), "'wandb agent me/proj/abcd1234' talks to the W&B server and needs an API key"),
        (TRAIN, "no W&B API key: set WANDB_API_KEY"),
    ],
)
def test_wandb_programs_without_a_key_are_refused_with_64(
    docker_image: BuiltImage, command: tuple[str, ...], message: str
) -> None:
    done = run(docker_image.tag, *command)
    assert done.returncode == 64
    assert done.stdout == ""
    assert message in done.stderr


def key_digest(image: str, options: tuple[str, ...]) -> str:
    """The SHA-256 of the key the container's command got, or the entrypoint's refusal."""
    probe = "import hashlib, os; print(hashlib.sha256(os.environ['WANDB_API_KEY'].encode()).hexdigest())"
    done = run(image, "python", "-c", probe, options=options)
    return done.stdout.strip() if done.returncode == 0 else f"{done.returncode}: {done.stderr.strip()}"


@pytest.mark.parametrize(
    ("owner", "mode", "works"),
    [(0, 0o444, True), (IMAGE_UID, 0o400, True), (OTHER_UID, 0o400, False)],
)
def test_key_from_env_or_a_mounted_file_reaches_the_program_and_both_are_refused(
    docker_image: BuiltImage, tmp_path: Path, owner: int, mode: int, works: bool
) -> None:
    key = docker_image.key
    secret = owned_folder(tmp_path / "secrets", 0) / "wandb_api_key"
    secret.write_text(key + "\n")
    os.chown(secret, owner, owner)
    secret.chmod(mode)
    as_file = ("-v", f"{secret}:/run/secrets/wandb_api_key:ro", "-e", "WANDB_API_KEY_FILE=/run/secrets/wandb_api_key")
    expected = hashlib.sha256(key.encode()).hexdigest()
    assert key_digest(docker_image.tag, ("-e", f"WANDB_API_KEY={key}")) == expected
    if works:
        assert key_digest(docker_image.tag, as_file) == expected
    else:
        refusal = key_digest(docker_image.tag, as_file)
        assert refusal.startswith("64: docker_entrypoint.sh: WANDB_API_KEY_FILE=/run/secrets/wandb_api_key")
        assert f"(owner uid {owner}, mode 400) is not readable by this container's user (uid {IMAGE_UID}" in refusal
        assert f"chown {IMAGE_UID} the file" in refusal
        assert key not in refusal
    both = key_digest(docker_image.tag, (*as_file, "-e", f"WANDB_API_KEY={key}"))
    assert both.startswith("64: ")
    assert "set only one of them" in both
