"""The main-thread side of background tasks in a Blender session: a persistent timer that drains their messages.

A timer, not a modal operator: File > Open/New/Revert remove modal handlers (and a modal
watcher left the panel at "Reading jobs..." forever), a modal operator swallows Esc for the
whole window and postpones autosave. ``bpy.app.timers.register(..., persistent=True)``
survives loading a file, does not take events, and stops itself when there is nothing to wait
for. While the Jobs panel is shown and a job is pending or running, the timer also re-reads the
jobs every ``JOBS_AUTO_REFRESH_S`` seconds.

Blender's bpy module has no event loop, so timers never fire there: scripts and tests call
:func:`tick` (or :func:`.bridge.drain`) themselves.
"""

from __future__ import annotations

import contextlib
import time

import bpy

from ..core import defaults
from . import bridge

_TICK_S = 0.2
_PANEL_SEEN_FOR_S = 2 * defaults.JOBS_AUTO_REFRESH_S
_jobs_panel_seen_at: list[float] = [0.0]
_last_auto_refresh: list[float] = [0.0]


def jobs_panel_shown() -> None:
    """Called by the Jobs panel's ``draw``: the jobs are on screen, so keep them fresh while some are active."""
    _jobs_panel_seen_at[0] = time.monotonic()
    ensure_watcher()


def _jobs_active(window_manager: bpy.types.WindowManager) -> bool:
    return any(job.state in ("pending", "processing") for job in window_manager.pose_factory.jobs)


def _auto_refresh_due(window_manager: bpy.types.WindowManager) -> bool:
    now = time.monotonic()
    return (
        now - _jobs_panel_seen_at[0] < _PANEL_SEEN_FOR_S
        and _jobs_active(window_manager)
        and now - _last_auto_refresh[0] >= defaults.JOBS_AUTO_REFRESH_S
        and not bridge.is_running("jobs")
    )


def _refresh_jobs(context: bpy.types.Context) -> None:
    from .snapshot import current_connection
    from .work import refresh_work

    link = current_connection().link
    if link is not None:
        bridge.start("jobs", "Reading jobs", refresh_work(link), link.settings, link.secrets)


def tick() -> float | None:
    """Apply the tasks' messages, announce finished tasks, refresh active jobs; the seconds until the next call
    (``None`` stops the timer: nothing runs and nothing is watched)."""
    window_manager = bpy.context.window_manager
    if window_manager is None or not hasattr(window_manager, "pose_factory"):
        return _TICK_S if bridge.has_work() else None
    for finished in bridge.drain(window_manager):
        _announce(finished)
    if _auto_refresh_due(window_manager):
        _last_auto_refresh[0] = time.monotonic()
        _refresh_jobs(bpy.context)
    if bridge.has_work():
        return _TICK_S
    watching = time.monotonic() - _jobs_panel_seen_at[0] < _PANEL_SEEN_FOR_S and _jobs_active(window_manager)
    return defaults.JOBS_AUTO_REFRESH_S / 6 if watching else None


def _announce(finished: bridge.TaskFinished) -> None:
    """Put a finished task's line in Blender's status bar and Info log (the panel shows it too)."""
    with contextlib.suppress(RuntimeError, AttributeError):  # no window to report into: the panel still shows the line
        bpy.ops.posefactory.report_message(level=finished.level, text=finished.text)


def ensure_watcher() -> None:
    """Start the timer unless it runs (a background task started, or the Jobs panel wants fresh jobs)."""
    if not bpy.app.timers.is_registered(tick):
        bpy.app.timers.register(tick, first_interval=_TICK_S, persistent=True)


def stop_watcher() -> None:
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)
    _jobs_panel_seen_at[0] = _last_auto_refresh[0] = 0.0


class POSEFACTORY_OT_report_message(bpy.types.Operator):
    bl_idname = "posefactory.report_message"
    bl_label = "Pose Factory: Report"
    bl_description = "Show a finished background task's message in the status bar"
    bl_options = {"INTERNAL"}  # noqa: RUF012 (Blender reads a set)

    level: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Level", items=(("INFO", "Info", ""), ("WARNING", "Warning", ""), ("ERROR", "Error", ""))
    )
    text: bpy.props.StringProperty(name="Text")  # type: ignore[valid-type]

    def execute(self, context: bpy.types.Context) -> set[str]:
        self.report({self.level}, self.text)
        return {"FINISHED"}


classes = (POSEFACTORY_OT_report_message,)
_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _register_classes()


def unregister() -> None:
    stop_watcher()
    bridge.shutdown()
    _unregister_classes()
