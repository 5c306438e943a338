"""The README's main job, `make run`, end to end on a tiny grid: offline sweep, then the best run's report."""

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_make_run_sweeps_offline_and_reports_the_best_run(subprocess_env, tmp_path):
    done = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "run",
            "SWEEP=tests/data/tiny_grid.yaml",
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
