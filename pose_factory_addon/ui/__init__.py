"""The Blender side of Pose Factory: preferences, properties, the task bridge, operators and panels.

Importing this package imports bpy; the top package imports it only inside ``register()``.
Modules register in order and unregister in reverse, so properties exist before the operators
and panels that read them, and nothing is left behind after ``unregister()``.
"""

from __future__ import annotations

from . import menus, operators, panels, preferences, properties, snapshot, watcher

_MODULES = (preferences, properties, watcher, operators, panels, menus, snapshot)


def register() -> None:
    for module in _MODULES:
        module.register()


def unregister() -> None:
    for module in reversed(_MODULES):
        module.unregister()
