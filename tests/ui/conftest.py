"""Fixtures for the Blender UI tests: an isolated user environment and the add-on enabled through Blender.

Blender's bpy module has no window event loop: modal operators and timers never run, so the
tests call :func:`pose_factory_addon.ui.bridge.drain` themselves.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

bpy = pytest.importorskip("bpy")

from ui_helpers import ADDON, REPO, SAMPLES, Isolated, connect, leftovers  # noqa: E402


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Isolated:
    """No Pose Factory, RunPod or AWS variables from the developer's shell; user dirs in tmp."""
    for name in list(os.environ):
        if name.startswith(("POSE_FACTORY_", "RUNPOD_", "AWS_")):
            monkeypatch.delenv(name)
    paths = Isolated(config=tmp_path / "config", data=tmp_path / "data")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(paths.config))
    monkeypatch.setenv("XDG_DATA_HOME", str(paths.data))
    return paths


@pytest.fixture
def addon(isolated: Isolated) -> Iterator[Any]:
    """A factory-empty scene with the add-on enabled by Blender's add-on manager (preferences included)."""
    import addon_utils

    bpy.ops.wm.read_factory_settings(use_empty=True)
    errors: list[BaseException] = []
    module = addon_utils.enable(ADDON, default_set=True, handle_error=errors.append)
    assert module is not None and not errors, errors
    connect(bpy.context)  # what the start-up timer does in a Blender session (timers never fire in the bpy module)
    try:
        yield bpy.context
    finally:
        from pose_factory_addon.ui import bridge

        bridge.shutdown()
        addon_utils.disable(ADDON, default_set=True)
        assert leftovers() == []


@pytest.fixture
def preferences(addon: Any) -> Any:
    from pose_factory_addon.ui.preferences import get_preferences

    prefs = get_preferences(addon)
    assert prefs is not None
    return prefs


@pytest.fixture
def one_character(tmp_path: Path) -> Path:
    """A folder holding one small sample character (GLB)."""
    folder = tmp_path / "characters"
    folder.mkdir()
    shutil.copy(SAMPLES / "Mannequin_Slim_Wave.glb", folder)
    return folder


@pytest.fixture(scope="session")
def rendered_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real two-image dataset of one sample character, rendered once per session (about 3 s)."""
    import subprocess
    import sys

    out = tmp_path_factory.mktemp("rendered") / "dataset"
    command = [sys.executable, str(REPO / "headless" / "render.py"), str(SAMPLES / "Mannequin_Slim_Wave.glb"), "--out", str(out)]
    command += ["--angles", "2", "--preset", "preview", "--resolution", "64x64"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return out
