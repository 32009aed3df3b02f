"""What ``draw()`` and ``poll()`` read: the connection and the cost estimate, computed when their inputs change.

Blender redraws the sidebar several times a second while work runs. Reading the config file,
the saved pod id, the cost YAML or every downloaded ``dataset.json`` there would put disk work
into every redraw, so they are read here instead: when a setting or a preference changes (their
``update`` callbacks), when a file is loaded, when a download finishes, and when an operator
runs. Panels only read the result: the connection from this module, the estimate from
``WindowManager.pose_factory.estimate``.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy

from ..core.errors import PoseFactoryError
from .messages import plain_message
from .preferences import Connection, connection
from .properties import animation_count
from .scene_state import character_count, measured_dirs
from .work import cost_view, count_images


@dataclass(frozen=True)
class ConnectionSnapshot:
    """The resolved connection, or why there is none (``error``); ``ready`` is False until first computed."""

    link: Connection | None = None
    error: str = ""
    ready: bool = False


_current = ConnectionSnapshot()


def refresh_connection(context: bpy.types.Context) -> ConnectionSnapshot:
    """Resolve preferences, environment and config file again (disk work: never from ``draw``)."""
    global _current
    try:
        _current = ConnectionSnapshot(connection(context), "", True)
    except PoseFactoryError as error:
        _current = ConnectionSnapshot(None, plain_message(error), True)
    return _current


def current_connection() -> ConnectionSnapshot:
    """The connection as last resolved; until then, not ``ready`` and a refresh is scheduled."""
    if not _current.ready and not bpy.app.timers.is_registered(_refresh_soon):
        bpy.app.timers.register(_refresh_soon, first_interval=0.0)
    return _current


def _refresh_soon() -> None:
    refresh_all(bpy.context)


def forget() -> None:
    """Drop the cached connection (unregister): a re-enabled add-on resolves it again."""
    global _current
    _current = ConnectionSnapshot()
    if bpy.app.timers.is_registered(_refresh_soon):
        bpy.app.timers.unregister(_refresh_soon)


def estimate_key(context: bpy.types.Context) -> str:
    """What the estimate depends on, as text (pure: safe in ``draw``); ``""`` when the settings do not parse."""
    settings = context.scene.pose_factory
    try:
        count = count_images(
            character_count(context), settings.angles, settings.elevations, settings.frames, animation_count(settings)
        )
    except ValueError:
        return ""
    return f"{count.images}|{settings.preset}|{settings.provider}|{settings.resolution[0]}x{settings.resolution[1]}"


def refresh_estimate(context: bpy.types.Context) -> None:
    """Compute the Cost panel's estimate for the current settings into ``WindowManager.pose_factory.estimate``.

    Reads the cost config and the downloaded ``dataset.json`` timings (disk work: never from ``draw``).
    """
    window_manager = getattr(context, "window_manager", None)
    scene = getattr(context, "scene", None)
    if window_manager is None or scene is None or not hasattr(window_manager, "pose_factory"):
        return
    estimate = window_manager.pose_factory.estimate
    settings = scene.pose_factory
    estimate.key = estimate_key(context)
    estimate.error = estimate.refusal = estimate.warning = estimate.source = ""
    estimate.total = estimate.per_image = 0.0
    try:
        count = count_images(
            character_count(context), settings.angles, settings.elevations, settings.frames, animation_count(settings)
        )
    except ValueError as error:
        estimate.error = str(error)
        return
    estimate.images, estimate.sentence = count.images, count.sentence()
    link = (_current if _current.ready else refresh_connection(context)).link
    if link is None or count.images == 0:
        return
    resolution = (settings.resolution[0], settings.resolution[1])
    try:
        view = cost_view(count.images, settings.preset, settings.provider, resolution, link.settings, measured_dirs(context))
    except PoseFactoryError as error:
        estimate.refusal = plain_message(error)
        return
    estimate.provider_name, estimate.total, estimate.per_image = view.provider_name, view.total, view.per_image
    estimate.source, estimate.warning, estimate.refusal = view.source, view.warning, view.refusal


def refresh_all(context: bpy.types.Context) -> None:
    """Everything this module caches, again (file loaded, preferences changed, add-on enabled)."""
    refresh_connection(context)
    refresh_estimate(context)


@bpy.app.handlers.persistent
def _file_loaded(_filepath: str) -> None:
    refresh_all(bpy.context)


def register() -> None:
    bpy.app.handlers.load_post.append(_file_loaded)
    bpy.app.timers.register(_refresh_soon, first_interval=0.0)


def unregister() -> None:
    if _file_loaded in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(_file_loaded)
    forget()
