"""The "Pose Factory" tab of the 3D Viewport sidebar (N): one parent panel and collapsible sub-panels.

Panels only read state and place operators: the Scene settings, the WindowManager state the
bridge fills, and quick pure computations (image count, cost estimate). Every state has words:
nothing configured, work running, and errors are all shown as labels, never as a traceback.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import bpy

from ..core import defaults
from ..core.cost import format_usd
from ..core.queue import FINAL_STATES
from . import watcher
from .messages import NOT_CONFIGURED
from .preferences import Connection, get_preferences
from .properties import animation_count
from .scene_state import OFFLINE_NOTE, character_count, local_output_root, offline_reason, results_root, selected_armature
from .snapshot import current_connection, estimate_key
from .work import count_images

_LEVEL_ICONS = {"INFO": "INFO", "WARNING": "ERROR", "ERROR": "CANCEL"}
_STATE_ICONS = {
    "pending": "TIME",
    "processing": "PLAY",
    "completed": "CHECKMARK",
    "failed": "CANCEL",
    "cancelled": "X",
    "rejected": "ERROR",
}


_CHARACTER_WIDTH_PX = 7.0  # an average character of Blender's UI font at scale 1


def _wrapped(layout: bpy.types.UILayout, context: bpy.types.Context, text: str, icon: str = "NONE", alert: bool = False) -> None:
    """``text`` on as many lines as the sidebar's width needs, so a long message is never cut off (one line when
    there is no region to measure, as in scripts)."""
    region = getattr(context, "region", None)
    preferences = getattr(context, "preferences", None)
    scale = (preferences.system.ui_scale if preferences is not None else 0.0) or 1.0
    width = max(int(region.width / (_CHARACTER_WIDTH_PX * scale)) - 6, 20) if region is not None else len(text) + 1
    column = layout.column(align=True)
    column.alert = alert
    for index, line in enumerate(textwrap.wrap(text, width) or [""]):
        column.label(text=line, icon=icon if index == 0 else "BLANK1")


def _alert(layout: bpy.types.UILayout, context: bpy.types.Context, text: str, icon: str = "ERROR") -> None:
    """A red message: errors, refusals and missing configuration."""
    _wrapped(layout, context, text, icon, alert=True)


def _connection_or_label(layout: bpy.types.UILayout, context: bpy.types.Context) -> Connection | None:
    """The connection as last resolved (never read from disk while drawing), or a line saying why there is none."""
    snapshot = current_connection()
    if snapshot.link is None:
        if snapshot.ready:
            _alert(layout, context, snapshot.error)
        else:
            layout.label(text="Reading the settings...", icon="SORTTIME")
    return snapshot.link


def _task_status(layout: bpy.types.UILayout, context: bpy.types.Context, name: str) -> None:
    """A progress bar with a stop button while task ``name`` runs; its last message afterwards."""
    task = context.window_manager.pose_factory.task(name)
    if task is None or not task.text:
        return
    if task.running:
        row = layout.row(align=True)
        row.progress(factor=task.fraction, type="BAR", text=task.text)
        row.operator("posefactory.cancel_task", text="Stop", icon="CANCEL").task = name
    else:
        _wrapped(layout, context, task.text, alert=task.level == "ERROR")


def _label_check(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    """The last label check: its progress while it runs, then detection rate, median errors, flags and the report."""
    _task_status(layout, context, "qa")
    check = context.window_manager.pose_factory.label_check
    if not check.folder or context.window_manager.pose_factory.is_running("qa"):
        return
    column = layout.column(align=True)
    column.label(text=f"Label check of {check.folder}", icon="VIEWZOOM")
    rate = "n/a" if check.detection_rate < 0 else f"{check.detection_rate:.0%}"
    column.label(text=f"MediaPipe detected a person in {rate} of the images")
    body = "n/a" if check.body_error < 0 else f"{check.body_error:.3f}"
    face = "n/a" if check.face_error < 0 else f"{check.face_error:.3f}"
    column.label(text=f"Median error: body {body}, face {face} body heights")
    flags = [flag for flag in check.flags.split("\n") if flag]
    for flag in flags:
        _alert(column, context, flag)
    if not flags:
        column.label(text="No flags", icon="CHECKMARK")
    if check.report:
        column.operator("wm.url_open", text="Open Label Report", icon="URL").url = Path(check.report).as_uri()


def _enhance(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    """The "Enhance with Stability AI..." button (its dialog shows the cost first) and the run's progress or summary."""
    layout.operator("posefactory.enhance_dataset", text="Enhance...", icon="SHADERFX")
    _task_status(layout, context, "enhance")


class POSEFACTORY_UL_characters(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):  # type: ignore[no-untyped-def]
        row = layout.row(align=True)
        row.prop(item, "enabled", text="")
        row.label(text=item.name, icon="ARMATURE_DATA")


class POSEFACTORY_UL_jobs(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):  # type: ignore[no-untyped-def]
        row = layout.row(align=True)
        row.label(text=item.name, icon=_STATE_ICONS.get(item.state, "QUESTION"))
        if item.total and item.state not in FINAL_STATES:
            row.progress(factor=item.fraction, type="BAR", text=f"{item.done}/{item.total}")
        else:
            row.label(text=item.state)


class _SidebarPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Pose Factory"


class POSEFACTORY_PT_main(_SidebarPanel, bpy.types.Panel):
    bl_idname = "POSEFACTORY_PT_main"
    bl_label = "Pose Factory"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        runtime = context.window_manager.pose_factory
        link = _connection_or_label(layout, context)
        if link is not None:
            _wrapped(layout, context, f"Job store: {link.settings.store}", "DISK_DRIVE")
            if link.missing_s3_credentials():
                _alert(layout, context, NOT_CONFIGURED["s3"])
            reason = offline_reason(link, "store")
            if reason:
                _wrapped(layout, context, reason, "INTERNET_OFFLINE")
        if not bpy.app.online_access and (link is None or not offline_reason(link, "store")):
            _wrapped(layout, context, f"{OFFLINE_NOTE} for S3 and RunPod; local work still runs", "INTERNET_OFFLINE")
        if runtime.message:
            icon = _LEVEL_ICONS.get(runtime.message_level, "INFO")
            _wrapped(layout, context, runtime.message, icon, alert=runtime.message_level == "ERROR")


class POSEFACTORY_PT_characters(_SidebarPanel, bpy.types.Panel):
    bl_idname = "POSEFACTORY_PT_characters"
    bl_parent_id = "POSEFACTORY_PT_main"
    bl_label = "Characters"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.pose_factory
        row = layout.row(align=True)
        row.prop(settings, "characters_folder", text="")
        row.operator("posefactory.scan_characters", text="", icon="FILE_REFRESH")
        runtime = context.window_manager.pose_factory
        if not settings.characters_folder:
            layout.label(text="Choose a folder of .fbx / .glb / .gltf characters", icon="INFO")
        elif runtime.is_running("scan"):
            _task_status(layout, context, "scan")
        elif runtime.scan_problem:
            _alert(layout, context, runtime.scan_problem)
        elif not settings.characters:
            layout.label(text="No character files in this folder (rescan after adding some)", icon="ERROR")
        else:
            layout.template_list("POSEFACTORY_UL_characters", "", settings, "characters", settings, "character_index", rows=3)
            ticked = sum(1 for item in settings.characters if item.enabled)
            layout.label(text=f"{ticked} of {len(settings.characters)} files ticked")
        row = layout.row(align=True)
        row.operator("posefactory.generate_characters", text="Generate...", icon="OUTLINER_OB_ARMATURE")
        row.operator("posefactory.load_character", text="Load", icon="IMPORT")
        _task_status(layout, context, "characters")
        layout.prop(settings, "use_selected_armature")
        if settings.use_selected_armature:
            armature = selected_armature(context)
            if armature is None:
                _alert(layout, context, "Select an armature in the viewport")
            else:
                _wrapped(layout, context, f"{armature.name} is exported to a temporary GLB for the job", "ARMATURE_DATA")


class POSEFACTORY_PT_render(_SidebarPanel, bpy.types.Panel):
    bl_idname = "POSEFACTORY_PT_render"
    bl_parent_id = "POSEFACTORY_PT_main"
    bl_label = "Render"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.pose_factory
        column = layout.column()
        column.use_property_split = True
        for name in ("angles", "elevations", "frames", "preset", "resolution", "output_name"):
            column.prop(settings, name)
        column.prop(settings, "labels", expand=True)
        if not settings.labels:
            _alert(layout, context, "Tick at least one label set")
        motions = layout.column(heading="Motions")
        motions.label(text="Motions (none ticked: each character's own animation)")
        motions.grid_flow(columns=3, even_columns=True, align=True).prop(settings, "motions", expand=True)
        row = motions.row()
        row.enabled = bool(settings.motions)
        row.prop(settings, "mirror_motions")
        variety = layout.column()
        variety.use_property_split = True
        variety.prop(settings, "scene_variety")
        ground = variety.row()
        ground.enabled = settings.scene_variety != "none"
        ground.prop(settings, "ground")
        if settings.scene_variety != "none" and settings.preset == "preview":
            _wrapped(variety, context, "Preview (Workbench) varies only the camera: no backgrounds, lights or clothing", "INFO")
        layout.prop(settings, "passes", expand=True)
        if "parts" in settings.passes and settings.preset in ("preview", "seed"):
            _alert(layout, context, "Parts need the Standard or Quality preset")
        try:
            count = count_images(
                character_count(context), settings.angles, settings.elevations, settings.frames, animation_count(settings)
            )
        except ValueError as error:
            _alert(layout, context, str(error))
            return
        _wrapped(layout, context, count.sentence(), "RENDER_RESULT")


class POSEFACTORY_PT_cost(_SidebarPanel, bpy.types.Panel):
    bl_idname = "POSEFACTORY_PT_cost"
    bl_parent_id = "POSEFACTORY_PT_main"
    bl_label = "Cost"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(context.scene.pose_factory, "provider")
        link = _connection_or_label(layout, context)
        if link is None:
            return
        estimate = context.window_manager.pose_factory.estimate
        if not estimate.key or estimate.key != estimate_key(context):
            layout.label(text="The estimate is out of date", icon="INFO")
        elif estimate.error:
            _alert(layout, context, f"No estimate: {estimate.error}")
        elif estimate.images == 0:
            layout.label(text="No estimate yet: choose at least one character", icon="INFO")
        elif estimate.refusal:
            _alert(layout, context, f"Refused: {estimate.refusal}", "CANCEL")
        else:
            column = layout.column(align=True)
            column.label(text=f"Total: {format_usd(estimate.total)} for {estimate.images} images")
            _wrapped(column, context, f"Per image: {format_usd(estimate.per_image)} ({estimate.source})")
            if estimate.warning:
                _alert(layout, context, f"{estimate.warning}: submitting asks for confirmation")
        limits = link.settings
        _wrapped(
            layout,
            context,
            f"Limits: {format_usd(limits.max_cost_per_job)} per job, {limits.max_batch_size} images, "
            f"warning above {format_usd(limits.warning_threshold)}",
        )
        layout.operator("posefactory.estimate_cost", text="Estimate", icon="INFO")


def _submission(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    """Submit To (queue or RunPod Serverless, a preference) and where jobs go as resolved."""
    preferences = get_preferences(context)
    if preferences is not None:
        layout.prop(preferences, "job_backend")
        if preferences.job_backend == "SERVERLESS":
            layout.prop(preferences, "serverless_endpoint")
    link = current_connection().link
    if link is not None:
        _wrapped(layout, context, f"Jobs go to the {link.submission_target()}", "EXPORT")
        if link.settings.backend == "serverless" and not link.runpod_api_key():
            _alert(layout, context, NOT_CONFIGURED["runpod"])


class POSEFACTORY_PT_jobs(_SidebarPanel, bpy.types.Panel):
    bl_idname = "POSEFACTORY_PT_jobs"
    bl_parent_id = "POSEFACTORY_PT_main"
    bl_label = "Jobs"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.pose_factory
        runtime = context.window_manager.pose_factory
        watcher.jobs_panel_shown()
        _submission(layout, context)
        row = layout.row(align=True)
        row.operator("posefactory.submit_job", text="Submit Job", icon="EXPORT")
        row.operator("posefactory.refresh_jobs", text="", icon="FILE_REFRESH")
        _task_status(layout, context, "submit")
        _task_status(layout, context, "jobs")
        if not runtime.jobs_checked:
            layout.label(text="Press refresh to read the jobs of the store", icon="INFO")
            return
        if not runtime.jobs:
            layout.label(text="No jobs in the store yet", icon="INFO")
            return
        layout.template_list("POSEFACTORY_UL_jobs", "", runtime, "jobs", runtime, "job_index", rows=3)
        job = runtime.active_job()
        if job is None:
            return
        box = layout.box()
        box.label(text=job.name, icon=_STATE_ICONS.get(job.state, "QUESTION"))
        if job.total:
            box.progress(factor=job.fraction, type="BAR", text=f"{job.state}: {job.done}/{job.total} images")
        else:
            box.label(text=f"State: {job.state}")
        if job.error:
            _alert(box, context, job.error)
        box.operator("posefactory.cancel_job", text="Cancel Job", icon="CANCEL")
        box.prop(settings, "download_folder")
        if not settings.download_folder:
            _wrapped(box, context, f"Downloads go to {results_root(context)}", "FILE_FOLDER")
        box.operator("posefactory.download_results", text="Download", icon="IMPORT")
        _task_status(box, context, "download")
        if job.results_folder:
            _wrapped(box, context, f"Downloaded to {job.results_folder}", "CHECKMARK")
        row = box.row(align=True)
        row.operator("posefactory.open_results_folder", text="Open Folder", icon="FILE_FOLDER")
        row.operator("posefactory.load_contact_sheet", text="Contact Sheet", icon="IMAGE_DATA")
        box.operator("posefactory.check_labels", text="Check Labels", icon="VIEWZOOM")
        _label_check(box, context)
        _enhance(box, context)


class POSEFACTORY_PT_pods(_SidebarPanel, bpy.types.Panel):
    bl_idname = "POSEFACTORY_PT_pods"
    bl_parent_id = "POSEFACTORY_PT_main"
    bl_label = "Pods"
    bl_options = {"DEFAULT_CLOSED"}  # noqa: RUF012 (Blender reads a set)

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        runtime = context.window_manager.pose_factory
        link = _connection_or_label(layout, context)
        if link is None:
            return
        if not link.runpod_api_key():
            _wrapped(layout, context, NOT_CONFIGURED["runpod"], "INFO")
        if not link.pod_id:
            _wrapped(layout, context, NOT_CONFIGURED["pod"], "INFO")
            return
        layout.label(text=f"Pod: {link.pod_id}", icon="NETWORK_DRIVE")
        reason = offline_reason(link, "runpod")
        if reason:
            _wrapped(layout, context, reason, "INTERNET_OFFLINE")
        if runtime.pod_checked and runtime.pod_id == link.pod_id:
            if runtime.pod_error:
                _alert(layout, context, runtime.pod_error)
            else:
                column = layout.column(align=True)
                column.label(text=f"Status: {runtime.pod_status}")
                column.label(text=f"GPU: {runtime.pod_gpu or 'unknown'}")
                column.label(text=f"Price: {format_usd(runtime.pod_cost_per_hour)} per hour")
                if runtime.pod_agent:
                    column.label(text=f"Agent: {runtime.pod_agent}")
        else:
            layout.label(text="Status not read yet: press refresh", icon="INFO")
        row = layout.row(align=True)
        row.operator("posefactory.pod_start", text="Start", icon="PLAY")
        row.operator("posefactory.pod_stop", text="Stop", icon="PAUSE")
        row.operator("posefactory.pod_terminate", text="Terminate", icon="TRASH")
        row.operator("posefactory.pod_refresh", text="", icon="FILE_REFRESH")
        _task_status(layout, context, "pods")


class POSEFACTORY_PT_render_here(_SidebarPanel, bpy.types.Panel):
    bl_idname = "POSEFACTORY_PT_render_here"
    bl_parent_id = "POSEFACTORY_PT_main"
    bl_label = "Render Here"
    bl_options = {"DEFAULT_CLOSED"}  # noqa: RUF012 (Blender reads a set)

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        settings = context.scene.pose_factory
        runtime = context.window_manager.pose_factory
        layout.prop(settings, "local_output_folder")
        layout.prop(settings, "replace_existing")
        target = local_output_root(context) / (settings.output_name or defaults.OUTPUT_NAME)
        _wrapped(layout, context, f"Writes {target}", "FILE_FOLDER")
        layout.operator("posefactory.render_local", text="Render Here", icon="RENDER_STILL")
        _task_status(layout, context, "render")
        if runtime.last_output_folder:
            _wrapped(layout, context, f"Last render: {runtime.last_output_folder}", "CHECKMARK")
            row = layout.row(align=True)
            row.operator("posefactory.open_results_folder", text="Open Folder", icon="FILE_FOLDER")
            row.operator("posefactory.load_contact_sheet", text="Contact Sheet", icon="IMAGE_DATA")
            layout.operator("posefactory.check_labels", text="Check Labels", icon="VIEWZOOM")
            _label_check(layout, context)
            _enhance(layout, context)


classes = (
    POSEFACTORY_UL_characters,
    POSEFACTORY_UL_jobs,
    POSEFACTORY_PT_main,
    POSEFACTORY_PT_characters,
    POSEFACTORY_PT_render,
    POSEFACTORY_PT_cost,
    POSEFACTORY_PT_jobs,
    POSEFACTORY_PT_pods,
    POSEFACTORY_PT_render_here,
)
register, unregister = bpy.utils.register_classes_factory(classes)
