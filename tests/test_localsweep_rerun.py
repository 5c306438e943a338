"""``python -m localsweep rerun NAME TRIAL``: a finished trial run again alone by its mode's worker code, and whether
that gave the same numbers; a changed data file, package version or commit named as the reason; ``--at-commit``;
what cannot be rerun; the report's ``--verify``. A tiny program (tests/localsweep_programs/recorded.py) stands in
for the trainer; the pooled test trains the real one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from contract import rerun as repeat
from localsweep.core.trial import Trial
from localsweep.storage.view import STORAGE_VAR, Location, SweepView
from tests.conftest import REPO_ROOT
from tests.localsweep_cli import python_m

PROGRAM = REPO_ROOT / "tests" / "localsweep_programs" / "recorded.py"
SWEEP = """program: {program}
method: grid
metric: {{name: score, goal: maximize}}
parameters:
  x: {{values: {xs}}}
  epochs: {{value: 2}}
  rows: {{value: 40}}
  data_path: {{value: {data}}}
"""


@dataclass(frozen=True)
class Swept:
    """A finished sweep of the tiny program: where it is and the environment its commands ran in."""

    root: Path
    name: str
    env: dict[str, str]
    data: Path
    packages: Path

    def trials(self) -> list[Trial]:
        view = SweepView.connect(Location(self.name, self.root, self.env.get(STORAGE_VAR)))
        try:
            return view.trials()
        finally:
            view.close()

    def best(self) -> Trial:
        view = SweepView.connect(Location(self.name, self.root, self.env.get(STORAGE_VAR)))
        try:
            found = view.best_trial()
        finally:
            view.close()
        assert found is not None
        return found


def environment(root: Path) -> dict[str, str]:
    """A child's environment: wandb offline and quiet, every wandb folder under ``root``, this checkout and the
    fake package folder importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "LOCALSWEEP_"))}
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR", "WANDB_ARTIFACT_DIR"):
        (root / var.lower()).mkdir(parents=True, exist_ok=True)
        env[var] = str(root / var.lower())
    quiet = ("WANDB_SILENT", "WANDB_DISABLE_GIT", "WANDB__DISABLE_STATS", "WANDB__DISABLE_META")
    env |= dict.fromkeys(quiet, "true") | {"WANDB_MODE": "offline", "WANDB_CONSOLE": "off"}
    env |= {"WANDB__SAVE_REQUIREMENTS": "false", "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(root / "pkgs")])}
    return env


def install_package(folder: Path, version: str) -> None:
    """A package ``recordedpkg`` of ``version`` as importlib.metadata finds it (its dist-info on the path)."""
    shutil.rmtree(folder, ignore_errors=True)
    info = folder / f"recordedpkg-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: recordedpkg\nVersion: {version}\n")


def localsweep(env: dict[str, str], *args: str | Path, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return python_m("localsweep", env, *args, cwd=cwd)


def analysis(env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    return python_m("analysis", env, *args)


def make_sweep(
    root: Path, env: dict[str, str], xs: str, program: Path | str = PROGRAM, cwd: Path = REPO_ROOT, *options: str
) -> str:
    (root / "data.bin").write_bytes(b"a")
    (root / "sweep.yaml").write_text(SWEEP.format(program=program, xs=xs, data=root / "data.bin"))
    done = localsweep(env, "run", root / "sweep.yaml", "--root", root / "sweeps", "--name", "s", *options, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return "s"


@pytest.fixture(scope="module")
def swept(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Swept]:
    """A two-trial command-mode sweep, run once for the module (in PostgreSQL with --storage-backend postgresql)."""
    root = tmp_path_factory.mktemp("rerun")
    env = environment(root)
    install_package(root / "pkgs", "1.0")
    database = None
    if request.config.getoption("--storage-backend") == "postgresql":
        server = request.getfixturevalue("postgres")
        database = f"rerun_{uuid.uuid4().hex[:8]}"
        env[STORAGE_VAR] = server.create_database(database)
    name = make_sweep(root, env, "[0.2, 0.4]")
    yield Swept(root / "sweeps", name, env, root / "data.bin", root / "pkgs")
    if database is not None:
        server.drop_database(database)


def test_the_best_trial_reruns_identical(swept):
    best = swept.best()
    done = localsweep(swept.env, "rerun", swept.name, best.run_id, "--root", swept.root)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "identical"
    compared = [line.split(":")[0] for line in lines if line.startswith("compared ")]
    assert compared == ["compared predictions SHA-256", "compared score", "compared test/accuracy", "compared epochs"]
    assert "recorded facts that differ now: none" in lines
    assert f"original: trial {best.number} (run {best.run_id}) of sweep {swept.name}" in done.stdout
    (folder,) = (swept.root / swept.name / "reruns").iterdir()  # the default scratch folder, inside the sweep's
    assert (repeat.read_result(folder) or {})["status"] == "identical"


def test_a_changed_data_file_or_package_version_is_named_as_the_reason(swept):
    trial = swept.trials()[0]
    try:
        swept.data.write_bytes(b"b")  # changes the program's numbers
        out = ["--root", swept.root, "--out", swept.root / "d"]
        done = localsweep(swept.env, "rerun", swept.name, str(trial.number), *out)  # TRIAL by its number
        assert done.returncode == 1, done.stdout + done.stderr
        lines = done.stdout.splitlines()
        assert lines[0] == "differs"
        assert any(line.startswith("compared score") and line.endswith("(differs)") for line in lines)
        assert "recorded facts that differ now (the likely reasons):" in lines
        changed = [line.strip() for line in lines if line.startswith(("  data_sha256", "  packages"))]
        assert [line.split(":")[0] for line in changed] == ["data_sha256.data"]
        # The per-row story, next to the rerun: McNemar, the paired bootstrap, the rows that changed.
        story = swept.root / "d" / repeat.STORY_DIR
        assert f"per-row story (original A vs rerun B): {story / 'report.html'}" in lines
        assert any(line.startswith("  McNemar") for line in lines)
        assert json.loads((story / "report.json").read_text())["disagreements"]["rows"] > 0
    finally:
        swept.data.write_bytes(b"a")
    try:
        install_package(swept.packages, "2.0")
        done = localsweep(swept.env, "rerun", swept.name, trial.run_id, "--root", swept.root, "--out", swept.root / "p")
        assert done.returncode == 1, done.stdout + done.stderr
        assert "  packages.recordedpkg: 1.0 -> 2.0" in done.stdout.splitlines()
        assert "data_sha256" not in done.stdout
    finally:
        install_package(swept.packages, "1.0")


def test_what_cannot_be_rerun_exits_2_saying_what_is_missing(swept):
    unknown = localsweep(swept.env, "rerun", swept.name, "99", "--root", swept.root)
    assert unknown.returncode == 2
    assert "cannot rerun: TRIAL must name a trial of sweep s by its run id or number, but got '99'" in unknown.stderr
    trial = swept.trials()[0]
    assert trial.run_dir is not None
    table = trial.run_dir / "files" / "predictions.csv"
    table.rename(table.with_suffix(".gone"))
    try:
        cut = localsweep(swept.env, "rerun", swept.name, trial.run_id, "--root", swept.root)
    finally:
        table.with_suffix(".gone").rename(table)
    assert cut.returncode == 2, cut.stdout + cut.stderr
    assert cut.stdout == ""
    assert f"it lacks the file of its predictions artifact ({table})" in cut.stderr


def test_the_report_says_whether_the_run_reproduced(swept, tmp_path):
    base = ["report", "--sweep", swept.name, "--sweeps-root", str(swept.root), "--resamples", "0"]
    plain = analysis(swept.env, *base, "--out", tmp_path / "plain")
    assert plain.returncode == 0, plain.stderr
    summary = json.loads((tmp_path / "plain" / "report.json").read_text())
    assert summary["reproduced"]["status"] == "not checked"
    assert "not checked: pass --verify to rerun it and compare" in (tmp_path / "plain" / "report.md").read_text()
    verified = analysis(swept.env, *base, "--out", tmp_path / "v", "--verify")
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("reproduced: identical; recorded facts that differ now: none (rerun in ")
    reproduced = json.loads((tmp_path / "v" / "report.json").read_text())["reproduced"]
    assert reproduced["status"] == "identical"
    assert reproduced["command"].startswith(f"-m localsweep rerun {swept.name} ")
    assert reproduced["lines"][0] == "identical"


@pytest.mark.parametrize("mode", [[], ["--function", "recorded:main"]], ids=["command", "pooled"])
def test_at_commit_reproduces_the_numbers_of_a_commit_before_a_change(tmp_path, mode):
    repo, env = tmp_path / "repo", environment(tmp_path)
    repo.mkdir()
    shutil.copy(PROGRAM, repo / "recorded.py")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "before"], check=True)
    name = make_sweep(tmp_path, env, "[0.3]", "recorded.py", repo, *mode)  # trials start in the repository
    source = (repo / "recorded.py").read_text()
    (repo / "recorded.py").write_text(source.replace("SCALE = 1.0", "SCALE = 1.5"))  # alters the numbers
    subprocess.run([*git, "commit", "-qam", "after"], check=True)
    root = tmp_path / "sweeps"

    today = localsweep(env, "rerun", name, "1", "--root", root, "--out", tmp_path / "today")
    assert today.returncode == 1, today.stdout + today.stderr
    assert today.stdout.startswith("differs\n")
    (commit_line,) = [line.strip() for line in today.stdout.splitlines() if line.startswith("  code.commit: ")]
    old = localsweep(env, "rerun", name, "1", "--root", root, "--out", tmp_path / "old", "--at-commit")
    assert old.returncode == 0, old.stdout + old.stderr
    assert old.stdout.startswith("identical\n")
    assert "recorded facts that differ now: none" in old.stdout
    assert f"code: commit {commit_line.split()[1]} of {repo.resolve()}" in old.stdout
    assert not (tmp_path / "old" / "code").exists()  # the temporary worktree is gone
    listed = subprocess.run([*git, "worktree", "list"], capture_output=True, text=True, check=True)
    assert len(listed.stdout.splitlines()) == 1


@pytest.mark.slow
def test_a_pooled_trial_run_third_in_its_worker_reruns_identical_alone(tmp_path, subprocess_env, main_job):
    # The main job is a pooled sweep of the real trainer, one worker (tests/conftest.py); the rerun reads its
    # record and writes only under --out.
    trials = SweepView.open(main_job.sweep).trials()
    assert [t.number for t in trials] == [1, 2, 3]
    assert len({t.pid for t in trials}) == 1  # one worker ran all three: the third ran after two others
    third = trials[2]
    env = {k: v for k, v in subprocess_env.items() if k != STORAGE_VAR}  # the main job's store is SQLite
    rerun = ["rerun", main_job.name, "3", "--root", main_job.sweeps_root, "--out", tmp_path / "alone"]
    alone = localsweep(env, *rerun)
    assert alone.returncode == 0, alone.stdout + alone.stderr
    lines = alone.stdout.splitlines()
    assert lines[0] == "identical"
    assert f"original: trial 3 (run {third.run_id}) of sweep {main_job.name}, {third.run_dir}" in lines
    assert any(line.startswith("rerun: pooled (trainer.train:agent_function), in a new worker") for line in lines)
    for name in ("predictions SHA-256", "val_accuracy", "test/accuracy", "test/loss", "test/auroc_macro", "epochs"):
        assert any(line.startswith(f"compared {name}: ") and line.endswith("(same)") for line in lines), name
    assert "recorded facts that differ now: none" in lines
