"""The README's main job, `make run`, end to end on a tiny grid: offline sweep, then the best run's report."""

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, MainJob


def _make_run(sweep: str, tmp_path: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "run",
            f"SWEEP=tests/data/{sweep}",
            "SWEEP_ARGS=--seed 0",
            "NAME=tiny",
            f"SWEEPS_ROOT={tmp_path / 'sweeps'}",
            f"REPORTS={tmp_path / 'reports'}",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("sweep", ["tiny_grid.yaml", "tiny_custom.yaml"])  # W&B's engine; Optuna, two metrics
def test_make_run_sweeps_offline_and_reports_the_best_run(subprocess_env, tmp_path, sweep, request):
    if sweep == "tiny_grid.yaml":  # the run's shared main job (tests/conftest.py) is this very `make run`
        job: MainJob = request.getfixturevalue("main_job")
        name, sweeps, reports, stdout = job.name, job.sweeps_root, job.report.parent, job.stdout
    else:
        name, sweeps, reports = "tiny", tmp_path / "sweeps", tmp_path / "reports"
        stdout = _make_run(sweep, tmp_path, subprocess_env)
    report = reports / name
    assert f"report: {report}/report.html" in stdout
    summary = json.loads((report / "report.json").read_text())
    best = json.loads(
        subprocess.run(
            [
                str(REPO_ROOT / ".venv/bin/python"),
                "-m",
                "localsweep",
                "best",
                name,
                "--metric",
                "val_accuracy",  # the primary metric: the report's best run (a custom sweep has two)
                "--root",
                str(sweeps),
                "--json",
            ],
            cwd=REPO_ROOT,
            env={k: v for k, v in subprocess_env.items() if k != "LOCALSWEEP_STORAGE"},  # its store is SQLite
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert best["run_id"] in (report / "report.html").read_text()
    assert best["run_id"] in json.dumps(summary)
    assert (sweeps / name / "sweep.db").is_file()
