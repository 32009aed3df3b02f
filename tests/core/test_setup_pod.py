"""headless/setup_pod.sh: valid shell, and it refuses a pod environment that cannot work before installing anything."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "headless" / "setup_pod.sh"


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "WORKSPACE_ROOT": str(tmp_path / "workspace"), **env}
    return subprocess.run(["bash", str(SCRIPT)], env=environment, capture_output=True, text=True, timeout=60, check=False)


def test_shell_syntax() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_shellcheck_clean() -> None:
    result = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "POSE_FACTORY_STORE is not set"),
        ({"POSE_FACTORY_STORE": "file:///workspace/store"}, "must be an s3:// URL"),
        ({"POSE_FACTORY_STORE": "s3://poses/queue", "POSE_FACTORY_RUNTIME": "gpu"}, "must be auto, blender or bpy"),
        ({"POSE_FACTORY_STORE": "s3://poses/queue", "POSE_FACTORY_SOURCE": "/nonexistent/pose-factory.whl"}, "does not exist"),
    ],
)
def test_refuses_unusable_environment(tmp_path: Path, env: dict[str, str], message: str) -> None:
    result = _run(tmp_path, **env)
    assert result.returncode == 1
    assert message in result.stdout
    assert (tmp_path / "workspace" / "logs" / "setup_pod.log").read_text().count(message) == 1
    assert not (tmp_path / "workspace" / "pose-factory-venv").exists()
