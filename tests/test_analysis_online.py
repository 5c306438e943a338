"""``python -m analysis report --sweep ENTITY/PROJECT/SWEEP_ID``: the online report, through W&B's own public API.

W&B's client (``wandb.Api``: ``Api().sweep``, its runs, each run's config and summary, ``logged_artifacts``, the
artifact's manifest and files) talks to the loopback server of tests/wandb_boundary.py, which answers with the
shapes that client parses, or with a fault: an HTTP error, or a connection accepted and never answered. Every
failure must be one line on stderr and a non-zero exit code, never a traceback. (The report after ``localsweep
sync`` is tested in tests/test_localsweep_sync.py, on the runs sync uploaded.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from analysis.__main__ import main
from tests.wandb_boundary import FakeWandb, ServerRun, fake_wandb_server

FAKE_KEY = "k" * 40
PATH = "team/mnist/sw1"
CONFIG = {"method": "grid", "metric": {"name": "score", "goal": "maximize"}, "parameters": {"x": {"values": [1, 2]}}}


def predictions_csv(n_rows: int = 60) -> bytes:
    """A valid predictions table of three classes (the contract in contract/predictions.py)."""
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.ones(3), size=n_rows)
    y_true = rng.integers(0, 3, size=n_rows)
    rows = [f"{i},{y_true[i]},{proba[i].argmax()}," + ",".join(f"{p:.17g}" for p in proba[i]) for i in range(n_rows)]
    return ("index,y_true,y_pred,prob_0,prob_1,prob_2\n" + "\n".join(rows) + "\n").encode()


def seed(fake: FakeWandb, *, in_sweep: bool = True) -> None:
    """W&B sweep ``team/mnist/sw1`` with two finished runs, the better one with its predictions artifact;
    ``in_sweep=False``: the runs were attached to it as prior runs, so W&B does not list them with it."""
    fake.add_sweep("team", "mnist", "sw1", yaml.safe_dump(CONFIG))
    for x in (1, 2):
        config = {"x": {"value": x}}
        run = ServerRun("team", "mnist", f"run{x}", config, {"score": x}, "sw1" if in_sweep else None, "finished")
        fake.add_run(run)
    fake.add_artifact(run, "predictions-run2", "predictions", {"predictions.csv": predictions_csv()}, {})


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch):
    with fake_wandb_server() as (url, fake):
        monkeypatch.setenv("WANDB_MODE", "online")
        monkeypatch.setenv("WANDB_BASE_URL", url)
        monkeypatch.setenv("WANDB_API_KEY", FAKE_KEY)
        yield fake


def report(tmp_path: Path, *args: str) -> int:
    out = ["--out", str(tmp_path / "report"), "--resamples", "0", "--sweeps-root", str(tmp_path / "sweeps")]
    return main(["report", "--sweep", PATH, *out, *args])


def test_online_report_of_a_sweep_its_agents_ran(online, tmp_path, capsys):
    seed(online)
    assert report(tmp_path) == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "report" / "report.json").read_text())
    assert summary["run"]["run_id"] == "run2"
    assert summary["sweep"]["sweep_id"] == "sw1"
    assert sorted(t["run_id"] for t in summary["sweep"]["trials"]) == ["run1", "run2"]
    assert FAKE_KEY not in "".join(capsys.readouterr())


def test_online_report_of_a_sweep_whose_runs_it_cannot_list_says_why(online, tmp_path, capsys):
    seed(online, in_sweep=False)  # attached as prior runs, and no offline sweep here says which
    assert report(tmp_path) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"W&B sweep {PATH} lists no runs" in err
    assert "wandb/wandb#3347" in err


@pytest.mark.parametrize(
    ("operation", "status", "code", "message"),
    [
        ("Sweep", 404, 2, f"needs W&B's API, but asking it for {PATH} failed: "),
        ("Sweep", 403, 2, "permission"),
        ("RunOutputArtifacts", 403, 2, "permission"),
        ("GET", 404, 2, f"needs W&B's API, but asking it for {PATH} failed: "),
        ("Runs", None, 1, "did not answer within 3 s"),
    ],
    ids=["sweep 404", "sweep 403", "artifacts 403", "download 404", "runs hang"],
)
def test_online_report_errors_are_one_line_and_a_non_zero_exit(online, tmp_path, capsys, operation, status, code,
                                                               message):  # fmt: skip
    seed(online)
    online.fail(operation, status)
    bound = ["--timeout", "3"] if status is None else []  # a hang ends at the bound; the rest must not wait for it
    assert report(tmp_path, *bound) == code
    err = capsys.readouterr().err
    assert err.startswith("analysis: error: ")
    assert err.count("\n") == 1, err
    assert message in err
    assert FAKE_KEY not in err
    assert not (tmp_path / "report").exists()
