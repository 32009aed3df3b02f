"""Headless Chromium for the label-check tests: load a page, collect its console, take a screenshot.

Without Chromium the tests skip with the reason, except in CI (``CI`` set), where its absence is a
failure: ``.ci/run`` installs it. (The QA interpreter is the ``qa_python`` fixture of tests/conftest.py.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--enable-logging=stderr",
    "--v=0",
)
CHROMIUM_TIMEOUT_S = 60


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must have it)")
    pytest.skip(reason)


def require_chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        _missing("headless Chromium is missing: `apt-get install chromium`")
    assert found is not None
    return found


@dataclass(frozen=True)
class PageLoad:
    """What Chromium made of a page: the DOM after loading, and every console line and uncaught error."""

    dom: str
    console: list[str]


def load_page(page: Path) -> PageLoad:
    """Open ``page`` in headless Chromium with a throw-away profile; collect its DOM and console messages."""
    chromium = require_chromium()
    with tempfile.TemporaryDirectory(prefix="pose-factory-chromium-") as profile:
        result = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.resolve().as_uri()],
            capture_output=True,
            text=True,
            timeout=CHROMIUM_TIMEOUT_S,
            check=False,
        )
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    return PageLoad(result.stdout, console)


def screenshot(page: Path, png: Path, size: tuple[int, int] = (1200, 3000)) -> Path:
    """A PNG of ``page`` as headless Chromium renders it, ``size`` pixels (width, height)."""
    chromium = require_chromium()
    with tempfile.TemporaryDirectory(prefix="pose-factory-chromium-") as profile:
        subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--hide-scrollbars",
             f"--window-size={size[0]},{size[1]}", f"--screenshot={png}", page.resolve().as_uri()],
            capture_output=True, text=True, timeout=CHROMIUM_TIMEOUT_S, check=True,
        )  # fmt: skip
    return png
