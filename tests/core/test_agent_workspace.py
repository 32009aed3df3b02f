"""Off a pod the agent works in the user cache folder, never creating /workspace; it says which folder it uses."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pose_factory_addon import cli
from pose_factory_addon.agent import workspace_folder
from pose_factory_addon.core import defaults


@pytest.fixture
def off_pod(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user whose cache folder is in ``tmp_path``, with no workspace setting; returns the expected workspace."""
    for name in ("WORKSPACE_ROOT", "POSE_FACTORY_CONFIG", "POSE_FACTORY_STORE", "RUNPOD_POD_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "pose-factory" / "agent"


def _pod_workspace_usable() -> bool:
    pod = Path(defaults.WORKSPACE_ROOT)
    return pod.is_dir() and os.access(pod, os.W_OK | os.X_OK)


def test_the_agent_names_the_workspace_it_uses_and_creates_no_pod_folder(
    off_pod: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existed = Path(defaults.WORKSPACE_ROOT).exists()
    assert cli.main(["agent", "--once", "--store", str(tmp_path / "store")]) == 0
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    [started] = [event for event in events if event["event"] == "agent_started"]
    expected = Path(defaults.WORKSPACE_ROOT) if _pod_workspace_usable() else off_pod
    assert started["workspace"] == str(expected)
    assert (expected / "jobs").is_dir()
    assert Path(defaults.WORKSPACE_ROOT).exists() == existed


def test_the_pod_workspace_is_used_where_it_exists_and_takes_files(off_pod: Path, tmp_path: Path) -> None:
    pod = tmp_path / "workspace"
    assert workspace_folder(str(pod), is_default=True) == off_pod  # missing: not a pod, and not created
    assert not pod.exists()
    pod.mkdir()
    assert workspace_folder(str(pod), is_default=True) == pod


def test_a_chosen_workspace_is_created_or_refused_in_one_line(
    off_pod: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chosen = tmp_path / "chosen" / "ws"
    assert workspace_folder(str(chosen), is_default=False) == chosen and chosen.is_dir()
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    assert cli.main(["agent", "--once", "--store", str(tmp_path / "store"), "--workspace", str(blocker / "ws")]) == 2
    expected = f"pose-factory agent: error: workspace {blocker / 'ws'}: {blocker} is a file, not a folder\n"
    assert capsys.readouterr().err == expected
