"""The report of a sweep with several metrics, on a real two-metric custom (Optuna) sweep of the TensorFlow-free echo
program (``score`` up, ``cost`` down; each trial writes a tiny predictions table as the trainer does): the front it
opens with is ``python -m localsweep best --json``'s, ``--trial`` and ``--metric`` pick the trial that ``status``
and ``best --metric`` name, ``compare --sweep`` weighs two of its trials, and a wrong pick is one line and exit 2."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from analysis.__main__ import main
from analysis.report.front import FIGURE
from contract.objectives import Objective, dominates
from localsweep.cli.main import main as localsweep
from localsweep.storage.view import STORAGE_VAR
from tests.conftest import REPO_ROOT
from tests.localsweep_cli import ECHO_FUNCTION

GOALS = (Objective("score", "maximize"), Objective("cost", "minimize"))
SWEEP = """program: tests/localsweep_programs/echo_config.py
method: custom
scheduler: {engine: optuna}
metrics: [{name: score, goal: maximize}, {name: cost, goal: minimize}]
parameters:
  x: {min: 0.0, max: 1.0}
  k: {values: [0, 1, 2]}
  rows: {value: 40}
"""


@dataclass(frozen=True)
class Swept:
    """A finished two-metric sweep and what the engine says of it."""

    root: Path
    name: str
    front: list[dict[str, Any]]  # best --json
    trials: list[dict[str, Any]]  # status --json
    best: dict[str, str]  # best --metric NAME --json: run id per metric

    def values(self, run_id: str) -> list[float]:
        trial = next(t for t in self.trials if t["run_id"] == run_id)
        return [trial["metrics"][g.name] for g in GOALS]


def _environment(base: Path, storage: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != STORAGE_VAR and not k.startswith("WANDB_")}
    for var in ("WANDB_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_CONFIG_DIR", "WANDB_ARTIFACT_DIR"):
        (base / var.lower()).mkdir(parents=True, exist_ok=True)
        env[var] = str(base / var.lower())
    env |= {"WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_CONSOLE": "off", "WANDB_DISABLE_GIT": "true"}
    env |= {"WANDB__DISABLE_STATS": "true", "WANDB__DISABLE_META": "true", "PYTHONPATH": str(REPO_ROOT)}
    return env | ({STORAGE_VAR: storage} if storage else {})


def _engine(*args: str, storage: str | None = None) -> Any:
    """``python -m localsweep ARGS --json`` in this process, as JSON."""
    out = io.StringIO()
    environ = {STORAGE_VAR: storage} if storage else {}
    with mock.patch.dict(os.environ, environ), contextlib.redirect_stdout(out):
        if not storage:
            os.environ.pop(STORAGE_VAR, None)
        assert localsweep([*args, "--json"]) == 0
    return json.loads(out.getvalue())


def _run_sweep(base: Path, count: int, storage: str | None = None) -> Swept:
    base.mkdir(parents=True, exist_ok=True)
    (base / "sweep.yaml").write_text(SWEEP)
    command = [sys.executable, "-m", "localsweep", "run", str(base / "sweep.yaml"), "--name", "m", "--count"]
    command += [str(count), "--seed", "1", "--function", ECHO_FUNCTION, "--root", str(base / "sweeps")]
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=_environment(base, storage), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    where = ["--root", str(base / "sweeps")] + (["--storage", storage] if storage else [])
    front = _engine("best", "m", *where, storage=storage)["pareto_front"]
    trials = _engine("status", "m", *where, storage=storage)["trials"]
    best = {g.name: _engine("best", "m", "--metric", g.name, *where, storage=storage)["run_id"] for g in GOALS}
    return Swept(base / "sweeps", "m", front, trials, best)


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Swept:
    """Five trials (the seed puts three on the front and two off it), recorded in SQLite."""
    return _run_sweep(tmp_path_factory.mktemp("pareto"), 5)


@pytest.fixture
def sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    """The module's sweep is a SQLite one, whichever backend the session's other sweeps use."""
    monkeypatch.delenv(STORAGE_VAR, raising=False)


def _report(swept: Swept, out: Path, *args: str) -> dict[str, Any]:
    common = ["--sweep", swept.name, "--sweeps-root", str(swept.root), "--resamples", "0", "--out", str(out)]
    assert main(["report", *common, *args]) == 0
    return dict(json.loads((out / "report.json").read_text()))


def _rank(swept: Swept, index: int, run_id: str) -> int:
    mine = swept.values(run_id)[index]
    return 1 + sum(1 for t in swept.trials if GOALS[index].better(t["metrics"][GOALS[index].name], mine))


@pytest.mark.slow
def test_report_opens_with_the_engines_front_and_says_which_point_it_explains(swept, sqlite, tmp_path):
    report = _report(swept, tmp_path / "r")
    pareto = report["pareto"]
    assert [(r["run_id"], r["number"], r["metrics"], r["config"]) for r in pareto["front"]] == [
        (r["run_id"], r["number"], r["metrics"], r["config"]) for r in swept.front
    ]
    assert 0 < len(pareto["front"]) < len(swept.trials)  # the seed gives a front and trials off it
    assert pareto["objectives"] == [{"name": "score", "goal": "maximize"}, {"name": "cost", "goal": "minimize"}]
    explained = report["run"]["run_id"]
    assert explained == swept.best["score"]  # the default: the best on the first metric
    assert report["selection"]["kind"] == "best"
    assert report["selection"]["rule"] == "the best on score (maximize), the sweep's first metric"
    trade_offs = pareto["explained"]["trade_offs"]
    assert [t["rank"] for t in trade_offs] == [_rank(swept, 0, explained), _rank(swept, 1, explained)]
    assert trade_offs[1]["best_run_id"] == swept.best["cost"]
    assert pareto["explained"]["on_front"] is True

    html = (tmp_path / "r" / "report.html").read_text()
    headings = re.findall(r"<h2>(.*?)</h2>", html)
    assert headings[:3] == ["Pareto front", "Explained trial on each metric", "Run and provenance"]
    assert f'<figure id="{FIGURE[0]}"><img alt="{FIGURE[1]}" src="data:image/png;base64,' in html
    assert (tmp_path / "r" / f"{FIGURE[0]}.png").read_bytes().startswith(b"\x89PNG")
    markdown = (tmp_path / "r" / "report.md").read_text()
    assert "| rank on each metric | score: 1 of 5, cost: " in markdown
    assert "| Pareto front | on the front (" in markdown
    assert "explains trial " in markdown


@pytest.mark.slow
def test_trial_and_metric_pick_the_trial_the_engine_names(swept, sqlite, tmp_path):
    off = next(t for t in swept.trials if t["run_id"] not in {r["run_id"] for r in swept.front})
    by_number = _report(swept, tmp_path / "number", "--trial", str(off["number"]))
    assert by_number["run"]["run_id"] == off["run_id"]
    assert by_number["selection"] == {
        "kind": "trial",
        "run_id": off["run_id"],
        "number": off["number"],
        "rule": f"asked for with --trial {off['number']}",
        "hint": "--trial ID|NUMBER explains another trial (another point of the front), --metric NAME the best "
        "along one metric",
    }
    explained = by_number["pareto"]["explained"]
    assert explained["on_front"] is False
    assert explained["beaten_by"]
    for run_id in explained["beaten_by"]:
        assert dominates(GOALS, swept.values(run_id), swept.values(off["run_id"]))
    assert [t["rank"] for t in explained["trade_offs"]] == [_rank(swept, k, off["run_id"]) for k in (0, 1)]
    assert "<title>Trial report: " in (tmp_path / "number" / "report.html").read_text()

    cheapest = _report(swept, tmp_path / "metric", "--metric", "cost")
    assert cheapest["run"]["run_id"] == swept.best["cost"]
    assert cheapest["selection"]["rule"] == "the best on cost (minimize), asked for with --metric cost"
    assert cheapest["pareto"]["explained"]["trade_offs"][1]["rank"] == 1

    front_trial = swept.front[-1]["run_id"]
    by_id = _report(swept, tmp_path / "id", "--trial", front_trial)
    assert by_id["run"]["run_id"] == front_trial
    assert by_id["pareto"]["front"] == cheapest["pareto"]["front"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trial", "999"], r"--trial must name a trial of sweep m by its run id or its number, but got '999' \(its "
         r"trials: 1 \w+, 2 \w+, .*\); fix: pass one of them"),
        (["--metric", "loss"], r"--metric must name one of sweep m's metrics \(score, cost\), but got 'loss'; fix: "),
        (["--trial", "1", "--metric", "cost"], r"only one may be given, but got --trial 1 and --metric cost; fix: "),
    ],
)  # fmt: skip
@pytest.mark.slow
def test_a_wrong_pick_is_one_line_exit_2_and_writes_nothing(swept, sqlite, tmp_path, capsys, args, message):
    out = tmp_path / "r"
    assert main(["report", "--sweep", "m", "--sweeps-root", str(swept.root), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("analysis: error: ")
    assert re.search(message, err), err
    assert len(err.splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("source", ["--predictions", "--run"])
def test_a_pick_needs_a_sweep(tmp_path, capsys, source):
    assert main(["report", source, str(tmp_path), "--metric", "cost", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"analysis: error: --trial and --metric pick a trial of a sweep, so they need --sweep, but got {source}; "
        "fix: pass --sweep SWEEP, or drop --trial/--metric\n"
    )
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_a_trial_without_predictions_here_is_refused(swept, sqlite, tmp_path, capsys):
    trial = swept.trials[0]
    out = tmp_path / "r"
    shutil.move(trial["run_dir"], tmp_path / "away")  # its run dir, with its predictions, is not on this host
    try:
        args = ["report", "--sweep", "m", "--sweeps-root", str(swept.root), "--trial", trial["run_id"]]
        assert main([*args, "--out", str(out)]) == 2
    finally:
        shutil.move(tmp_path / "away", trial["run_dir"])
    err = capsys.readouterr().err
    assert f"the predictions of run {trial['run_id']} must be readable, but its run directory" in err
    assert len(err.splitlines()) == 1
    assert not out.exists()


@pytest.mark.slow
def test_compare_weighs_two_trials_of_one_sweep(swept, sqlite, tmp_path, capsys):
    a, b = swept.front[0], swept.front[-1]
    out = tmp_path / "c"
    args = ["compare", "--sweep", "m", str(a["number"]), b["run_id"], "--sweeps-root", str(swept.root)]
    assert main([*args, "--resamples", "50", "--out", str(out)]) == 0
    summary = json.loads((out / "report.json").read_text())
    assert summary["names"] == [a["run_id"], b["run_id"]]
    for side, trial in (("a", a), ("b", b)):
        assert summary[side]["trial"]["number"] == trial["number"]
        assert {k: v["value"] for k, v in summary[side]["trial"]["metrics"].items()} == trial["metrics"]
        assert summary[side]["trial"]["on_front"] is True
    markdown = (out / "report.md").read_text()
    assert "| score | maximize | " in markdown
    assert "## Sweep metrics" in markdown

    capsys.readouterr()
    assert (
        main(["compare", "--sweep", "m", "1", "nosuch", "--sweeps-root", str(swept.root), "--out", str(out / "x")]) == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("analysis: error: compare's B must name a trial of sweep m by its run id or its number")
    assert not (out / "x").exists()


@pytest.mark.slow
def test_trial_and_metric_on_postgresql_from_a_host_without_the_run_dirs(tmp_path, postgres_url, monkeypatch):
    swept = _run_sweep(tmp_path / "agents", 4, postgres_url)
    shutil.move(swept.root, tmp_path / "elsewhere")  # the run dirs are on the agents' host only
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(STORAGE_VAR, postgres_url)
    not_best = next(t for t in swept.trials if t["run_id"] != swept.best["score"])
    common = ["report", "--sweep", "m", "--storage", postgres_url, "--resamples", "0"]
    assert main([*common, "--trial", str(not_best["number"]), "--out", "trial"]) == 0
    assert main([*common, "--metric", "cost", "--out", "cost"]) == 0
    for out, run_id in (("trial", not_best["run_id"]), ("cost", swept.best["cost"])):
        report = json.loads((tmp_path / out / "report.json").read_text())
        assert report["run"]["run_id"] == run_id
        assert [r["run_id"] for r in report["pareto"]["front"]] == [r["run_id"] for r in swept.front]
        assert any("predictions were read from the sweep's store" in n for n in report["provenance"]["notes"])


def readme_example() -> list[str]:
    """The command of the README's "report of a multi-objective sweep" block, as words."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### The report of a multi-objective sweep") :]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "the section must hold a bash block"
    lines = [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert len(lines) == 1
    return shlex.split(lines[0])


@pytest.mark.slow
def test_the_readme_example_runs(swept, sqlite, tmp_path):
    words = readme_example()
    assert words[:3] == [".venv/bin/python", "-m", "analysis"]
    args = [swept.name if word == "pareto" else word for word in words[3:]]
    out = ["--sweeps-root", str(swept.root), "--resamples", "0", "--out", str(tmp_path / "r")]
    assert main([*args, *out]) == 0
    trial = next(t for t in swept.trials if t["number"] == int(args[args.index("--trial") + 1]))
    assert json.loads((tmp_path / "r" / "report.json").read_text())["run"]["run_id"] == trial["run_id"]
