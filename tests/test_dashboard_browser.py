"""The dashboard in a real browser (Debian's chromium driven by playwright, ``tests/browser.py``), following sweeps
that run while the page is open: started here as a user starts them, in SQLite and in PostgreSQL with agents as
separate processes. One page load per test: everything after it arrives pushed (server-sent events)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Dialog, Page

from tests.conftest import REPO_ROOT
from tests.dashboard_server import dashboard, stop

pytestmark = pytest.mark.slow

PROGRAM = REPO_ROOT / "tests" / "localsweep_programs" / "echo_config.py"
NAMED = "<img src=x onerror=alert(1)>"
"""A value that runs a script if a page ever parses it as HTML."""
# W&B's schema allows only [A-Za-z_][A-Za-z0-9_.-]* as a YAML parameter's name; a define-by-run space (Optuna)
# names its parameters freely, so a parameter named `<script>` reaches the page from there.
SPACE = f"""
import optuna


def space(trial: optuna.Trial) -> None:
    trial.suggest_categorical("<script>", [{NAMED!r}, "<b>bold</b>"])


def median(seed):
    return optuna.pruners.MedianPruner(n_startup_trials=2)
"""
LIVE_YAML = f"""
program: {PROGRAM}
method: custom
scheduler: {{engine: optuna, source: space.py, search_space: space, optimizer: median}}
run_cap: 8
metric: {{name: score, goal: maximize}}
parameters:
  x: {{min: 0.1, max: 1.0}}
  sleep: {{value: 1.0}}
  epochs: {{value: 8}}  # not 4: a trial first seen late (at epoch 3 of 4, under load) must log more while running
"""


RUNNING_POINTS = """() => {
    const traces = document.querySelector('#chart-curves')?.data || [];
    const running = traces.find((trace) => trace.name.startsWith('running'));
    const points = {};
    (running ? running.text : []).forEach((label, i) => {
        if (label && running.y[i] !== null) points[label] = (points[label] || 0) + 1;
    });
    return points;
}"""
"""The curves chart's running trials: how many epochs each one's curve has, by its label."""
MARKED_STOPS = """() => (document.querySelector('#chart-curves')?.data || [])
    .filter((trace) => trace.name.startsWith('stopped early')).map((trace) => trace.x.length)[0] || 0"""
"""How many early stops the curves chart marks."""
PARETO_FRONT = """() => document.querySelector('#chart-pareto').data
    .filter((trace) => trace.name.startsWith('Pareto front')).map((trace) => trace.x.length)[0]"""
"""How many trials the Pareto chart draws on the front."""


PARETO_YAML = f"""
program: {PROGRAM}
method: custom
scheduler: {{engine: optuna}}
run_cap: 4
metrics: [{{name: score, goal: maximize}}, {{name: cost, goal: minimize}}]
parameters:
  x: {{values: [0.2, 0.5, 0.8, 1.0]}}
  k: {{values: [0, 1]}}
  sleep: {{value: 1.0}}
  epochs: {{value: 3}}
"""
"""Two objectives at odds (echo_config.py: score = x * epochs, cost = x ** 2 + k)."""


def rows(page: Page) -> list[dict[str, str]]:
    """The trial table as shown: one dict per row, by column header."""
    found: list[dict[str, str]] = page.evaluate(
        """() => {
            const heads = [...document.querySelectorAll('#trials thead th')].map((th) => th.textContent);
            return [...document.querySelectorAll('#trials tbody tr')].map((tr) =>
                Object.fromEntries([...tr.children].map((td, i) => [heads[i], td.textContent])));
        }"""
    )
    return found


def wait(page: Page, ready: Callable[[], Any], timeout: float, what: str) -> Any:
    """``ready()``'s first true value, looked at every 100 ms (the page is never reloaded meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := ready():
            return value
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; the table: {rows(page)}")


def show_each_chart(page: Page, tabs: list[str]) -> None:
    """Open each tab; its chart must be drawn by Plotly (importance: once the server computed it)."""
    for tab in tabs:
        page.click(f"button[data-tab={tab}]")
        page.wait_for_selector(f"#panel-{tab} .js-plotly-plot", timeout=60_000)


def spawn(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """A sweep or an agent in its own process group (what it prints is not needed)."""
    return subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, start_new_session=True
    )


def stop_group(process: subprocess.Popen[str], sig: int = signal.SIGINT) -> None:
    """Stop a sweep or an agent as Ctrl-C does (its process group), and wait for it."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def sweeps_root(tmp_path: Path) -> Path:
    root = tmp_path / "sweeps"
    root.mkdir()
    return root


@pytest.fixture
def live_sweep(tmp_path: Path, sweeps_root: Path, subprocess_env: dict[str, str]) -> Iterator[Callable[[], None]]:
    """Starts (when called) `localsweep run` of a custom sweep with a pruner and a parameter named `<script>`;
    stopped with Ctrl-C at the end."""
    (tmp_path / "space.py").write_text(SPACE)
    (tmp_path / "sweep.yaml").write_text(LIVE_YAML)
    started: list[subprocess.Popen[str]] = []

    def start() -> None:
        argv = [sys.executable, "-m", "localsweep", "run", "sweep.yaml", "--name", "live", "--root", str(sweeps_root),
                "--workers", "2", "--seed", "0", "--kill-delay", "1"]  # fmt: skip
        started.append(spawn(argv, tmp_path, subprocess_env))

    yield start
    for process in started:
        stop_group(process)


def test_a_running_sweep_appears_and_its_trials_epochs_and_charts_follow_without_a_reload(
    browser_page: tuple[Page, list[str]], live_sweep: Callable[[], None], sweeps_root: Path, tmp_path: Path,
    subprocess_env: dict[str, str],
) -> None:  # fmt: skip
    page, errors = browser_page
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:  # an alert() would mean some data ran as a script
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    with dashboard(subprocess_env, "--root", str(sweeps_root)) as served:
        page.goto(served.url)
        page.wait_for_selector("text=No sweep here yet", timeout=30_000)
        page.evaluate("window.loadedOnce = true")  # gone if the page were ever reloaded
        live_sweep()
        page.click("#sweeps tr[data-sweep=live] a", timeout=60_000)  # the new sweep appears in the list

        # A running trial shows its first epochs in the table; its curve then grows, epoch by epoch.
        seen: dict[str, int] = {}

        def running_with_epochs() -> bool:
            for row in rows(page):
                if row["state"] == "running" and row["epochs logged"] not in ("", "0"):
                    seen[row["run id"]] = int(row["epochs logged"])
            return bool(seen)

        wait(page, running_with_epochs, 90, "a running trial with an epoch logged")
        numbers = {r["#"] for r in rows(page)}
        page.click("button[data-tab=curves]")

        def grown() -> bool:
            points = page.evaluate(RUNNING_POINTS)
            return any(run_id in label and n > seen[run_id] for label, n in points.items() for run_id in seen)

        wait(page, grown, 60, "a running trial's curve to grow past what the table showed")

        # New trials appear; the ended ones fill the charts.
        page.click("button[data-tab=trials]")
        wait(page, lambda: {r["#"] for r in rows(page)} - numbers, 90, "a new trial")
        wait(page, lambda: sum(r["state"] in ("finished", "stopped") for r in rows(page)) >= 2, 90, "two ended trials")
        page.click("button[data-tab=curves]")
        wait(page, lambda: page.evaluate(MARKED_STOPS) >= 1, 90, "a trial stopped by the pruner, marked")
        shot = Path(os.environ.get("DASHBOARD_SCREENSHOT") or tmp_path / "dashboard-running.png")
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
        show_each_chart(page, ["best", "parallel", "parameters", "importance"])

        # A parameter named `<script>` and a value that is an <img> tag stay text, in the table and in the charts.
        page.click("button[data-tab=trials]")
        assert "<script>" in page.eval_on_selector_all("#trials th", "ths => ths.map((th) => th.textContent)")
        assert page.locator("#trials td", has_text=NAMED).count() >= 1
        assert page.evaluate("document.querySelectorAll('main img, main script').length") == 0
        assert page.evaluate("[...document.querySelectorAll('b')].every((b) => b.textContent !== 'bold')")
        assert page.evaluate("window.loadedOnce") is True

        # The table sorts, filters and shows the columns chosen.
        page.click("#trials th:text-is('score')")
        page.click("#trials th:text-is('score')")  # the second click: best first
        scores = [float(r["score"]) for r in rows(page) if r["score"]]
        assert scores[:2] == sorted(scores, reverse=True)[:2]
        page.fill("input[type=search]", "finished")
        assert {r["state"] for r in rows(page)} == {"finished"}
        page.fill("input[type=search]", "")
        page.click("details.columns summary")
        page.uncheck("details.columns label:has-text('host') input")
        assert "host" not in rows(page)[0]

        # A trial's page: how it ended, its log, the commands of its report.
        page.click("#trials tbody tr:has(td.state.finished)")
        page.wait_for_selector("#commands")
        commands = page.text_content("#commands") or ""
        assert "python -m analysis report --sweep live --trial " in commands
        assert page.text_content("h1")
        assert page.is_visible("#log")
        page.wait_for_selector("#chart-history.js-plotly-plot")
        assert stop(served.process) == 143  # at once, though the page's event stream is open
    assert dialogs == []
    assert errors == []


def test_the_page_follows_a_postgresql_sweep_of_two_metrics_whose_agents_run_on_two_hosts(
    browser_page: tuple[Page, list[str]], postgres_url: str, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    page, errors = browser_page
    (tmp_path / "sweep.yaml").write_text(PARETO_YAML)
    created = subprocess.run(
        [sys.executable, "-m", "localsweep", "create", "sweep.yaml", "--name", "g", "--storage", postgres_url],
        cwd=tmp_path, env=subprocess_env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    agents = []
    try:
        with dashboard(subprocess_env, "--storage", postgres_url, "--root", str(tmp_path / "here")) as served:
            page.goto(served.url)
            for host in ("host-a", "host-b"):
                home = tmp_path / host
                home.mkdir()
                shutil.copy(tmp_path / "sweep.yaml", home)
                argv = [sys.executable, "-m", "localsweep", "agent", "g", "--storage", postgres_url, "--root",
                        str(home / "sweeps")]  # fmt: skip
                env = {**subprocess_env, "LOCALSWEEP_HOST": host}
                agents.append(spawn(argv, home, env))
            page.click("#sweeps tr[data-sweep=g] a", timeout=60_000)
            # Epochs of running trials come from the database (the agents of a custom sweep push them for its
            # pruner): this dashboard's host has none of the trials' files.
            wait(
                page,
                lambda: any(r["state"] == "running" and r["epochs logged"] not in ("", "0") for r in rows(page)),
                90,
                "a running trial's epochs, read from PostgreSQL",
            )
            done = wait(
                page,
                lambda: (found := rows(page)) and all(r["state"] in ("finished", "stopped") for r in found) and found,
                120,
                "every trial to end",
            )
            assert {r["host"] for r in done} == {"host-a", "host-b"}
            wait(page, lambda: "ended" in (page.text_content("#status") or ""), 60, "the sweep's end and its reason")
            hosts = page.text_content(".hosts") or ""
            assert "host-a" in hosts
            assert "host-b" in hosts
            show_each_chart(page, ["curves", "best", "parallel", "parameters", "pareto"])
            front = page.evaluate(PARETO_FRONT)
            assert 1 <= front <= 4
    finally:
        for agent in agents:
            stop_group(agent)
    assert errors == []
