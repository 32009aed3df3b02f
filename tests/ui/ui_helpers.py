"""Helpers shared by the UI tests: paths, leftovers after unregister, settings, and a recording layout.

Panels draw onto :class:`RecordingLayout`, a stand-in for Blender's ``UILayout`` (which only
exists inside a window the bpy module cannot open); it records every call so tests can check
what each panel shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bpy

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples" / "characters"
ADDON = "pose_factory_addon"


@dataclass
class Isolated:
    """Where this test's user config (pod id, config.yaml) and data (default store) live."""

    config: Path
    data: Path


def leftovers() -> list[str]:
    from pose_factory_addon.ui import bridge

    found = [name for name in dir(bpy.types) if name.startswith("POSEFACTORY_") or name.startswith("PoseFactory")]
    found += [f"Scene.{name}" for name in ("pose_factory",) if hasattr(bpy.types.Scene, name)]
    found += [f"WindowManager.{name}" for name in ("pose_factory",) if hasattr(bpy.types.WindowManager, name)]
    found += ["posefactory operators"] if [name for name in dir(bpy.ops.posefactory) if not name.startswith("_")] else []
    found += ["watch timer"] if bridge._watch_timer else []
    found += ["worker threads"] if bridge.has_work() else []
    return found


def use_characters(context: Any, folder: Path, names: tuple[str, ...] = ()) -> None:
    """Point the Characters panel at ``folder`` and tick only ``names`` (all when empty)."""
    settings = context.scene.pose_factory
    settings.characters_folder = str(folder)
    for item in settings.characters:
        item.enabled = not names or item.name in names


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
