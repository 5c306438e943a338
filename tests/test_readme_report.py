"""Every command of the README's report section, run as written on a real tiny sweep and a real run."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

SECTION = "## The best-run report (`python -m analysis`)"


def readme_commands() -> list[str]:
    """The lines of the first bash block of the README's report section, comments removed."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "the report section must start with a bash block"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_report_block_has_the_commands_we_run():
    commands = readme_commands()
    assert len(commands) == 6
    assert all(".venv/bin/python -m analysis " in command for command in commands)
    section = (REPO_ROOT / "README.md").read_text(encoding="utf-8").split(SECTION)[1].split("\n## ")[0]
    screenshots = re.findall(r"!\[[^]]*\]\((docs/[^)]+\.png)\)", section)
    assert screenshots == ["docs/report.png"]
    assert (REPO_ROOT / screenshots[0]).read_bytes().startswith(b"\x89PNG")


def _run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.slow
def test_every_readme_report_command_runs(tmp_path, subprocess_env, main_job, trained_run):
    # The run's shared main job is the README's grid sweep (offline_sweeps/grid, where the commands look for it)
    # and its shared trained run is RUN_DIR (tests/conftest.py); both are only read.
    (tmp_path / "offline_sweeps").mkdir()
    (tmp_path / "offline_sweeps" / main_job.name).symlink_to(main_job.sweep)
    subprocess_env.pop("LOCALSWEEP_STORAGE", None)  # that sweep is recorded in its SQLite file
    run_dir = re.search(r"^run dir:\s+(\S+)", trained_run.stdout, re.MULTILINE)
    assert run_dir, trained_run.stdout
    shutil.copy(Path(run_dir.group(1)) / "files" / "predictions.csv", tmp_path / "preds.csv")

    for line in readme_commands():
        words = shlex.split(line.replace("RUN_DIR", run_dir.group(1)))
        env = dict(subprocess_env)
        while "=" in words[0]:
            key, value = words.pop(0).split("=", 1)
            env[key] = value
        assert words[0] == ".venv/bin/python"
        result = _run([sys.executable, *words[1:]], {**env, "HOME": str(tmp_path)}, tmp_path)
        if env.get("WANDB_MODE") == "online":  # no key and no network here: a clean refusal
            assert result.returncode == 2, line
            assert "needs W&B's API" in result.stderr, result.stderr
            continue
        assert result.returncode == 0, f"{line}\n{result.stderr[-2000:]}"
        written = [Path(found) for found in re.findall(r"^json: (\S+)$", result.stdout, re.MULTILINE)]
        assert len(written) == 1, result.stdout
        report = json.loads((tmp_path / written[0]).read_text())
        if words[4:6] == ["--sweep", "grid"]:
            assert report["sweep"]["scored_trials"] == 3
            features = [f["feature"] for f in report["sweep"]["importance"]["features"]]
            assert features == ["units"]
            assert report["errors"]["gallery"].startswith("mnist test split")
        if "--resamples" in words:
            assert report["uncertainty"] == {"skipped": "--resamples 0 asked for none"}
        if words[3] == "compare":
            assert report["rows"] == 10000
            assert result.stdout.startswith("McNemar")
