"""A real browser for the tests: Debian's chromium driven by playwright (no browser download), a fresh profile per
test, and the console errors and page errors it reports."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's chromium; installed with apt when missing and this is root with apt, else the test is skipped."""
    if not CHROMIUM.exists():
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.skip(
                "needs Debian's chromium: run `apt-get install -y chromium` as root (this is not root with apt)"
            )
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            subprocess.run(command, env=env, check=True, capture_output=True, timeout=1200)
    return CHROMIUM


@pytest.fixture
def browser_page(chromium: Path, tmp_path: Path) -> Iterator[tuple[Page, list[str]]]:
    """A fresh chromium profile's page, and the console errors and page errors it reports."""
    from playwright.sync_api import sync_playwright  # only the browser tests need it

    errors: list[str] = []
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(chromium),
            args=FLAGS,
            headless=True,
            viewport={"width": 1200, "height": 900},
        )
        page = context.new_page()
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page, errors
        context.close()
