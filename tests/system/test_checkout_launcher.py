"""`headless/agent.py` from a plain checkout under a Python like Blender's (numpy and requests, no boto3, PyYAML or
Pillow): one line naming what is missing and the fix; after `build.py --blender-site` (`make wheels`), it runs.

Blender's Python is played by this interpreter started with ``-S`` (no site-packages) and PYTHONPATH holding
only the packages Blender bundles; the checkout is a temporary copy of headless/ next to the package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from agent_processes import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT))
import build

BLENDER_BUNDLED = ("numpy", "numpy.libs", "requests", "urllib3", "certifi", "idna", "charset_normalizer")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """``<tmp>/repo`` with a copy of headless/ and the package linked in, and no build/ folder."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "headless", repo / "headless", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "pose_factory_addon").symlink_to(REPO_ROOT / "pose_factory_addon")
    return repo


@pytest.fixture
def blender_like_environment(tmp_path: Path) -> dict[str, str]:
    bundled = tmp_path / "blender-bundled"
    bundled.mkdir()
    site = Path(sysconfig.get_paths()["purelib"])
    for name in BLENDER_BUNDLED:
        if (site / name).exists():
            (bundled / name).symlink_to(site / name)
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PYTHONPATH": str(bundled),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }


def _launch(checkout: Path, env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-S", str(checkout / "headless" / "agent.py"), *arguments]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_a_missing_package_is_one_line_with_the_fix(checkout: Path, blender_like_environment: dict[str, str]) -> None:
    result = _launch(checkout, blender_like_environment, "--once")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("agent.py: boto3, PyYAML, Pillow missing from this Python")
    assert f"run `make wheels` in {checkout}" in line and "Traceback" not in result.stderr


def test_blender_site_command_targets_blenders_python() -> None:
    command = build.blender_site_command(Path("/x/python3.11"), "linux-x64")
    assert command[command.index("--target") + 1] == "/x/python3.11"
    assert command[command.index("--python-version") + 1] == "3.11" and "--only-binary=:all:" in command
    assert "manylinux2014_x86_64" in command and command[-3:] == ["boto3", "PyYAML", "pillow"]
    assert command[command.index("--constraint") + 1].endswith("headless/pod-constraints.txt")


@pytest.mark.slow
def test_after_make_wheels_the_checkout_agent_runs(checkout: Path, blender_like_environment: dict[str, str]) -> None:
    """Downloads boto3, PyYAML and Pillow wheels from PyPI (about 20 MB) into the checkout's build/blender-site."""
    target = build.install_blender_site(checkout / "build" / "blender-site")
    assert target == checkout / "build" / "blender-site" / "python3.11" and (target / "boto3").is_dir()
    store = (checkout.parent / "store").as_uri()
    result = _launch(checkout, blender_like_environment, "--store", store, "--once", "--workspace", str(checkout.parent / "ws"))
    assert result.returncode == 0, result.stderr[-2000:]
    events = [json.loads(line)["event"] for line in result.stderr.splitlines()]
    assert events == ["agent_started", "agent_stopped"]
