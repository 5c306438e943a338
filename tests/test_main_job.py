"""The README's main job, `make run`, end to end on a tiny grid: offline sweep, then the best run's report."""

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize("sweep", ["tiny_grid.yaml", "tiny_custom.yaml"])  # W&B's engine; Optuna, two metrics
def test_make_run_sweeps_offline_and_reports_the_best_run(subprocess_env, tmp_path, sweep):
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
        cwd=REPO,
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = tmp_path / "reports" / "tiny"
    assert f"report: {report}/report.html" in done.stdout
    summary = json.loads((report / "report.json").read_text())
    best = json.loads(
        subprocess.run(
            [
                str(REPO / ".venv/bin/python"),
                "-m",
                "localsweep",
                "best",
                "tiny",
                "--metric",
                "val_accuracy",  # the primary metric: the report's best run (a custom sweep has two)
                "--root",
                str(tmp_path / "sweeps"),
                "--json",
            ],
            cwd=REPO,
            env=subprocess_env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert best["run_id"] in (report / "report.html").read_text()
    assert best["run_id"] in json.dumps(summary)
    assert (tmp_path / "sweeps" / "tiny" / "sweep.db").is_file()
