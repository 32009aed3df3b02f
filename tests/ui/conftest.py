"""Fixtures for the Blender UI tests: an isolated user environment and the add-on enabled through Blender.

Blender's bpy module has no window event loop: modal operators and timers never run, so the
tests call :func:`pose_factory_addon.ui.bridge.drain` themselves, and panels are drawn onto a
:class:`RecordingLayout` (a stand-in for ``UILayout``, which only exists inside a window).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

bpy = pytest.importorskip("bpy")

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples" / "characters"
ADDON = "pose_factory_addon"


@dataclass
class Isolated:
    """Where this test's user config (pod id, config.yaml) and data (default store) live."""

    config: Path
    data: Path


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


def _leftovers() -> list[str]:
    from pose_factory_addon.ui import bridge

    found = [name for name in dir(bpy.types) if name.startswith("POSEFACTORY_") or name.startswith("PoseFactory")]
    found += [f"Scene.{name}" for name in ("pose_factory",) if hasattr(bpy.types.Scene, name)]
    found += [f"WindowManager.{name}" for name in ("pose_factory",) if hasattr(bpy.types.WindowManager, name)]
    found += ["posefactory operators"] if [name for name in dir(bpy.ops.posefactory) if not name.startswith("_")] else []
    found += ["watch timer"] if bridge._watch_timer else []
    found += ["worker threads"] if bridge.has_work() else []
    return found


@pytest.fixture
def addon(isolated: Isolated) -> Iterator[Any]:
    """A factory-empty scene with the add-on enabled by Blender's add-on manager (preferences included)."""
    import addon_utils

    bpy.ops.wm.read_factory_settings(use_empty=True)
    errors: list[BaseException] = []
    module = addon_utils.enable(ADDON, default_set=True, handle_error=errors.append)
    assert module is not None and not errors, errors
    try:
        yield bpy.context
    finally:
        from pose_factory_addon.ui import bridge

        bridge.shutdown()
        addon_utils.disable(ADDON, default_set=True)
        assert _leftovers() == []


@pytest.fixture
def preferences(addon: Any) -> Any:
    from pose_factory_addon.ui.preferences import get_preferences

    prefs = get_preferences(addon)
    assert prefs is not None
    return prefs


def use_characters(context: Any, folder: Path, names: tuple[str, ...] = ()) -> None:
    """Point the Characters panel at ``folder`` and tick only ``names`` (all when empty)."""
    settings = context.scene.pose_factory
    settings.characters_folder = str(folder)
    for item in settings.characters:
        item.enabled = not names or item.name in names


@pytest.fixture
def one_character(tmp_path: Path) -> Path:
    """A folder holding one small sample character (GLB)."""
    folder = tmp_path / "characters"
    folder.mkdir()
    shutil.copy(SAMPLES / "Mannequin_Slim_Wave.glb", folder)
    return folder


def small_render_settings(context: Any) -> None:
    """Two views of one frame at 64x64 with Workbench: seconds, not minutes."""
    settings = context.scene.pose_factory
    settings.angles = 2
    settings.preset = "preview"
    settings.resolution = (64, 64)
    settings.frames = "1"


class RecordingLayout:
    """Records every ``UILayout`` call a panel makes; child layouts share one call log."""

    def __init__(self, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] | None = None) -> None:
        self.calls = [] if calls is None else calls

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        def record(*args: Any, **kwargs: Any) -> RecordingLayout:
            self.calls.append((name, args, kwargs))
            return RecordingLayout(self.calls)

        return record

    def texts(self) -> list[str]:
        return [str(kwargs["text"]) for _, _, kwargs in self.calls if kwargs.get("text")]

    def operators(self) -> list[str]:
        return [args[0] for name, args, _ in self.calls if name == "operator"]

    def joined(self) -> str:
        return "\n".join(self.texts())


def draw(panel: type, context: Any) -> RecordingLayout:
    """Call ``panel.draw`` the way Blender does, with a recording layout."""
    layout = RecordingLayout()
    panel.draw(SimpleNamespace(layout=layout), context)
    return layout


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
