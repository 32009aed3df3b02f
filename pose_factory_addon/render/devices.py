"""The render device in Blender: Cycles' preferences handed to :mod:`..core.devices`, once per process.

:func:`select_device` searches once (Cycles' device search can take seconds with a GPU driver)
and remembers the choice; :func:`apply_device` configures a scene for it after every factory
reset (which resets the preferences too); :func:`device_record` is what ``dataset.json`` records.
"""

from __future__ import annotations

from typing import Any

import bpy

from ..core.devices import DeviceChoice, apply_choice, choose_cycles_device, validate_device

_chosen: dict[str, DeviceChoice] = {}


def cycles_preferences() -> Any:
    """Cycles' add-on preferences (the add-on is enabled in a factory-reset Blender and in the bpy module)."""
    addon = bpy.context.preferences.addons.get("cycles")
    if addon is None:
        import addon_utils

        addon_utils.enable("cycles", default_set=True)
        addon = bpy.context.preferences.addons["cycles"]
    return addon.preferences


def select_device(requested: str = "auto") -> DeviceChoice:
    """Choose the device for ``requested`` (``auto``, ``cpu``, ``gpu``) and make it this process's render device.

    Raises:
        UsageError: ``gpu`` and no GPU is visible to Cycles.
    """
    requested = validate_device(requested)
    if requested not in _chosen:
        _chosen.clear()
        _chosen[requested] = choose_cycles_device(cycles_preferences(), requested)
    return _chosen[requested]


def current_device() -> DeviceChoice:
    """The device chosen in this process, or the ``auto`` choice when nothing chose one yet."""
    return next(iter(_chosen.values())) if _chosen else select_device("auto")


def apply_device(scene: bpy.types.Scene) -> DeviceChoice:
    """Render ``scene`` on the current device (Cycles: ``scene.cycles.device`` and the preferences)."""
    choice = current_device()
    if scene.render.engine == "CYCLES":
        apply_choice(cycles_preferences(), choice)
        scene.cycles.device = "GPU" if choice.device == "GPU" else "CPU"
    return choice


def device_record(engine: str) -> dict[str, Any]:
    """The ``device`` block of ``dataset.json`` for a render with ``engine``."""
    return current_device().record(engine)
