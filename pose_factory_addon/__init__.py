"""Pose Factory: labeled human-pose training data from rigged 3D characters.

Importing this package has no Blender side effects (the headless agent, the CLI and the
core tests import it without bpy); the Blender UI is loaded only by :func:`register`.
"""

from __future__ import annotations

__version__ = "0.1.0"


def register() -> None:
    """Register the Blender UI (called by Blender when the extension is enabled)."""
    from . import ui

    ui.register()


def unregister() -> None:
    """Remove everything :func:`register` added."""
    from . import ui

    ui.unregister()
