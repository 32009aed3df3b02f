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
    from pose_factory_addon.ui import bridge, snapshot, watcher

    found = [name for name in dir(bpy.types) if name.startswith("POSEFACTORY_") or name.startswith("PoseFactory")]
    found += [f"Scene.{name}" for name in ("pose_factory",) if hasattr(bpy.types.Scene, name)]
    found += [f"WindowManager.{name}" for name in ("pose_factory",) if hasattr(bpy.types.WindowManager, name)]
    found += ["posefactory operators"] if [name for name in dir(bpy.ops.posefactory) if not name.startswith("_")] else []
    found += ["watch timer"] if bpy.app.timers.is_registered(watcher.tick) else []
    found += ["refresh timer"] if bpy.app.timers.is_registered(snapshot._refresh_soon) else []
    found += ["load handler"] if snapshot._file_loaded in bpy.app.handlers.load_post else []
    found += ["worker threads"] if bridge.has_work() else []
    return found


def settle(context: Any, timeout: float = 60.0) -> None:
    """What Blender's timer would do in a session: wait for the background tasks and apply their messages."""
    from pose_factory_addon.ui import bridge

    assert bridge.wait(timeout)
    bridge.drain(context.window_manager)


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


_UILAYOUT = bpy.types.UILayout.bl_rna


class RecordingLayout:
    """Records every ``UILayout`` call a panel makes; child layouts share one call log.

    Only what Blender's ``UILayout`` has is accepted: a method missing from its RNA functions, a
    keyword it does not take, or an attribute it does not have fails the test, as it would
    fail in Blender when the panel is drawn.
    """

    def __init__(self, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] | None = None) -> None:
        object.__setattr__(self, "calls", [] if calls is None else calls)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        function = _UILAYOUT.functions.get(name)
        if function is None:
            raise AttributeError(f"UILayout has no method {name!r}")
        accepted = {parameter.identifier for parameter in function.parameters}

        def record(*args: Any, **kwargs: Any) -> Any:
            unknown = set(kwargs) - accepted
            if unknown:
                raise TypeError(f"UILayout.{name}() has no keyword {sorted(unknown)}")
            self.calls.append((name, args, kwargs))
            return OperatorSettings(self.calls, args[0]) if name == "operator" else RecordingLayout(self.calls)

        return record

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in _UILAYOUT.properties:
            raise AttributeError(f"UILayout has no attribute {name!r}")
        self.calls.append(("set", (name, value), {}))

    def texts(self) -> list[str]:
        return [str(kwargs["text"]) for _, _, kwargs in self.calls if kwargs.get("text")]

    def operators(self) -> list[str]:
        return [args[0] for name, args, _ in self.calls if name == "operator"]

    def joined(self) -> str:
        return "\n".join(self.texts())


class OperatorSettings:
    """What ``layout.operator()`` returns: the button's operator properties, checked against the operator's RNA."""

    def __init__(self, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]], idname: str) -> None:
        category, _, name = idname.partition(".")
        properties = getattr(getattr(bpy.ops, category), name).get_rna_type().properties
        object.__setattr__(self, "_calls", calls)
        object.__setattr__(self, "_idname", idname)
        object.__setattr__(self, "_properties", {prop.identifier for prop in properties})

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._properties:
            raise AttributeError(f"operator {self._idname} has no property {name!r}")
        self._calls.append(("operator_property", (self._idname, name, value), {}))


def draw(panel: type, context: Any) -> RecordingLayout:
    """Call ``panel.draw`` the way Blender does, with a recording layout."""
    layout = RecordingLayout()
    panel.draw(SimpleNamespace(layout=layout), context)
    return layout


def connect(context: Any) -> None:
    """Resolve the connection and the estimate again, as Blender does after a settings change or a file load."""
    from pose_factory_addon.ui.snapshot import refresh_all

    refresh_all(context)


def sidebar_panels() -> tuple[type, ...]:
    """Every panel the add-on registers, in drawing order."""
    from pose_factory_addon.ui import panels

    return tuple(cls for cls in panels.classes if issubclass(cls, bpy.types.Panel))
