"""The exploration notebook: a reviewed py:percent source, no outputs committed, executed top to bottom."""

import os
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import REPO_ROOT

SOURCES = sorted((REPO_ROOT / "notebooks").glob("*.py"))


def _committed_notebooks() -> list[Path]:
    listed = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "ls-files", "*.ipynb"], capture_output=True, text=True, check=True
    ).stdout.split()
    return [REPO_ROOT / name for name in listed]


def test_notebook_sources_exist_as_py_percent_with_a_committed_pair():
    assert SOURCES, "notebooks/ must hold at least one jupytext py:percent source"
    committed = _committed_notebooks()
    for source in SOURCES:
        assert "format_name: percent" in source.read_text()
        assert source.with_suffix(".ipynb") in committed, f"{source.name} has no committed .ipynb pair"


@pytest.mark.parametrize("path", _committed_notebooks(), ids=lambda p: p.name)
def test_committed_notebook_has_no_outputs_and_matches_its_source(path):
    nbstripout = Path(sys.executable).parent / "nbstripout"
    verify = subprocess.run([str(nbstripout), "--verify", str(path)], capture_output=True, text=True, check=False)
    assert verify.returncode == 0, f"{path.name} is not stripped: run `nbstripout {path}` ({verify.stdout})"
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: outputs are committed (run nbstripout)"
            assert cell.execution_count is None
    paired = path.with_suffix(".py")
    if paired.exists():
        source = jupytext.read(paired)
        assert [c.source for c in source.cells] == [c.source for c in notebook.cells], (
            f"{path.name} and {paired.name} are out of sync: run `jupytext --sync {paired}`"
        )


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_notebook_executes_top_to_bottom_offline(source, trained_run, monkeypatch):
    run_dir = trained_run.run_dir  # the run's shared tiny training run (tests/conftest.py), only read
    monkeypatch.setenv("ANALYSE_RUN", str(run_dir))
    # The kernel is started as `python`: make it this venv's interpreter, as an activated venv would.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    notebook = jupytext.read(source)
    NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(REPO_ROOT)}}
    ).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 5  # class balance, mean digits, samples, confusion matrix, ROC (+ errors)
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert f"offline run {run_dir}" in text
    assert "accuracy" in text
