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

REPO = Path(__file__).resolve().parents[1]
SECTION = "## The best-run report (`python -m analysis`)"

TINY_GRID = """
program: trainer/__main__.py
method: grid
metric:
  name: val_accuracy
  goal: maximize
parameters:
  units:
    values: [16, 32, 64]
  epochs:
    value: 1
  train_size:
    value: 300
  save_model:
    value: false
"""


def readme_commands() -> list[str]:
    """The lines of the first bash block of the README's report section, comments removed."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "the report section must start with a bash block"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_report_block_has_the_commands_we_run():
    commands = readme_commands()
    assert len(commands) == 6
    assert all(".venv/bin/python -m analysis " in command for command in commands)
    section = (REPO / "README.md").read_text(encoding="utf-8").split(SECTION)[1].split("\n## ")[0]
    screenshots = re.findall(r"!\[[^]]*\]\((docs/[^)]+\.png)\)", section)
    assert screenshots == ["docs/report.png"]
    assert (REPO / screenshots[0]).read_bytes().startswith(b"\x89PNG")


def _run(command: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.slow
def test_every_readme_report_command_runs(tmp_path, subprocess_env):
    (tmp_path / "tiny.yaml").write_text(TINY_GRID)
    sweep = [sys.executable, "-m", "localsweep", "run", "tiny.yaml", "--name", "grid", "--function"]
    done = _run([*sweep, "trainer.train:agent_function"], subprocess_env, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    done = _run(
        [sys.executable, "-m", "trainer", "--epochs=1", "--train_size=300", "--units=8"], subprocess_env, tmp_path
    )
    assert done.returncode == 0, done.stderr[-2000:]
    run_dir = re.search(r"^run dir:\s+(\S+)", done.stdout, re.MULTILINE)
    assert run_dir, done.stdout
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
