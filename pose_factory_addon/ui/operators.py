"""Pose Factory operators (F3 search groups them under "Pose Factory: ...").

Each operator is thin: it gathers the Scene settings and the preferences on the main thread,
hands a function from :mod:`.work` to :mod:`.bridge`, and reports one line. ``execute()``
blocks (scripts, tests, the bpy module); ``invoke()`` sets ``background`` and returns at once
while a worker thread does the network or render work and the modal watcher drains its messages.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import bpy

from ..core import defaults
from ..core.character_files import character_file_problem
from ..core.characters import (
    BODY_TYPES,
    ETHNICITIES,
    MAX_AGE_YEARS,
    MAX_HEIGHT_M,
    MAX_PEOPLE_PER_RUN,
    MIN_AGE_YEARS,
    spec_from_options,
)
from ..core.child_process import cli_command
from ..core.config import user_data_dir
from ..core.cost import format_usd
from ..core.dataset import DATASET_FILE
from ..core.enhance_options import MODES, EnhanceOptions, enhance_options
from ..core.errors import PoseFactoryError, UsageError
from ..core.manifest import PASSES, validate_job_id
from ..core.queue import FINAL_STATES
from ..core.render_params import RenderChoices, parse_elevations
from ..core.security import resolve_under, safe_slug
from . import bridge, watcher
from .messages import NOT_CONFIGURED, plain_message
from .preferences import Connection
from .properties import animation_count, chosen_motions, scan_characters, start_scan
from .scene_state import (
    character_count,
    local_output_root,
    measured_dirs,
    offline_reason,
    results_folder,
    results_root,
    selected_armature,
)
from .snapshot import current_connection, refresh_connection, refresh_estimate
from .work import (
    RenderRequest,
    cancel_work,
    check_labels_work,
    cost_view,
    count_images,
    download_work,
    enhance_estimate,
    enhance_work,
    generate_characters_work,
    pod_work,
    refresh_work,
    render_local_work,
    submit_work,
    test_runpod_work,
    test_store_work,
)


def _export_armature(context: bpy.types.Context, armature: bpy.types.Object) -> Path:
    """Export ``armature`` and its child meshes (with animation) to a GLB in a fresh temp folder.

    Child meshes outside this view layer (hidden collections, other scenes) cannot be selected and are
    left out; a failed export removes the temp folder and says why in one line.

    Raises:
        UsageError: the armature is not in this view layer, or the glTF exporter failed.
    """
    context.view_layer.update()  # collections shown or excluded since the last redraw: sync the layer's objects first
    previous = [obj for obj in context.view_layer.objects if obj.select_get()]
    for obj in previous:
        obj.select_set(False)
    objects = [obj for obj in (armature, *armature.children_recursive) if obj is armature or obj.type == "MESH"]
    objects = [obj for obj in objects if _selected(obj)]
    if armature not in objects:
        _reselect(previous)
        raise UsageError(f"{armature.name} is not in this view layer: show its collection, then try again")
    folder = Path(tempfile.mkdtemp(prefix="pose-factory-armature-"))
    path = folder / f"{safe_slug(armature.name)}.glb"
    try:
        bpy.ops.export_scene.gltf(filepath=str(path), export_format="GLB", use_selection=True, export_animations=True)
        if not path.is_file():
            raise UsageError(f"exporting {armature.name} to glTF wrote nothing")
    except (RuntimeError, UsageError) as error:
        shutil.rmtree(folder, ignore_errors=True)
        reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
        raise UsageError(f"exporting {armature.name} to glTF failed: {reason}") from None
    finally:
        for obj in objects:
            obj.select_set(False)
        _reselect(previous)
    return path


def _selected(obj: bpy.types.Object) -> bool:
    """Select ``obj``; False when it cannot be (outside this view layer: an excluded or other scene's collection)."""
    try:
        obj.select_set(True)
    except RuntimeError:
        return False
    return True


def _reselect(objects: list[bpy.types.Object]) -> None:
    for obj in objects:
        obj.select_set(True)


def render_request(context: bpy.types.Context) -> RenderRequest:
    """The Scene settings as a :class:`RenderRequest`; exports the selected armature when ticked.

    Raises:
        UsageError: no character, a listed file vanished, or an output name with nothing safe in it.
    """
    settings = context.scene.pose_factory
    files: dict[str, Path] = {}
    for item in settings.characters:
        if item.enabled:
            path = Path(item.path)
            if not path.is_file():
                raise UsageError(f"{path} no longer exists; rescan the characters folder")
            files[item.name] = path
    temporary: tuple[Path, ...] = ()
    if settings.use_selected_armature:
        armature = selected_armature(context)
        if armature is None:
            raise UsageError("'Use the Selected Armature' is ticked but no armature is selected")
        exported = _export_armature(context, armature)
        files[exported.stem] = exported
        temporary = (exported,)
    if not files:
        raise UsageError("no characters: choose a characters folder and tick at least one file")
    try:
        output_name = safe_slug(settings.output_name or defaults.OUTPUT_NAME)
    except ValueError as error:
        raise UsageError(f"output name: {error}") from None
    try:
        elevations = parse_elevations(settings.elevations)
    except ValueError as error:
        raise UsageError(str(error)) from None
    choices = RenderChoices(
        angles=settings.angles,
        elevations=elevations,
        frames=settings.frames,
        preset=settings.preset,
        resolution=(settings.resolution[0], settings.resolution[1]),
        labels=tuple(sorted(settings.labels)),
        motions=dict.fromkeys(chosen_motions(settings)),
        mirror=settings.mirror_motions and bool(settings.motions),
        randomize=settings.scene_variety,
        passes=tuple(name for name in PASSES if name in settings.passes),
        ground=settings.ground and settings.scene_variety != "none",
    )
    return RenderRequest(files=files, choices=choices, output_name=output_name, temporary_files=temporary)


def _job_id(context: bpy.types.Context, job_id: str) -> str:
    """``job_id`` if given, else the job selected in the list; validated (raises ``ManifestError``)."""
    job = context.window_manager.pose_factory.active_job()
    return validate_job_id(job_id or (job.name if job is not None else ""))


def _poll_selected_job(cls: type, context: bpy.types.Context, task: str, doing: str, completed: bool) -> bool:
    """A job must be selected and be completed (download) or not final yet (cancel)."""
    job = context.window_manager.pose_factory.active_job()
    if job is None:
        cls.poll_message_set("Select a job in the list (refresh the jobs first)")  # type: ignore[attr-defined]
        return False
    if completed and job.state != "completed":
        cls.poll_message_set(f"Only completed jobs have results; the selected job is {job.state}")  # type: ignore[attr-defined]
        return False
    if not completed and job.state in FINAL_STATES:
        cls.poll_message_set(f"The selected job is already {job.state}")  # type: ignore[attr-defined]
        return False
    return _poll_idle(cls, task, doing)


class _PoseFactoryOperator:
    """Shared plumbing: connection with errors reported, blocking or background runs."""

    background: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="In Background", description="Run in a worker thread and return at once", options={"HIDDEN", "SKIP_SAVE"}
    )

    def _connection(self, context: bpy.types.Context, service: str = "") -> Connection | None:
        """Resolve the connection again (operators may read files; panels read the snapshot this refreshes)."""
        snapshot = refresh_connection(context)
        link = snapshot.link
        if link is None:
            self.report({"ERROR"}, snapshot.error)  # type: ignore[attr-defined]
            return None
        reason = offline_reason(link, service) if service else ""
        if reason:
            self.report({"ERROR"}, reason)  # type: ignore[attr-defined]
            return None
        return link

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        self.background = True
        return self.execute(context)  # type: ignore[attr-defined,no-any-return]

    def _run(self, context: bpy.types.Context, task: str, label: str, work: bridge.Work, link: Connection) -> set[str]:
        if self.background:
            bridge.start(task, label, work, link.settings, link.secrets)
            watcher.ensure_watcher()
            self.report({"INFO"}, f"{label}... (Stop in the Pose Factory panel)")  # type: ignore[attr-defined]
            return {"FINISHED"}
        finished = bridge.run_now(context.window_manager, task, label, work, link.settings, link.secrets)
        self.report({finished.level}, finished.text)  # type: ignore[attr-defined]
        return {"FINISHED"} if finished.ok else {"CANCELLED"}


def _poll_characters(cls: type, context: bpy.types.Context) -> bool:
    if character_count(context) == 0:
        cls.poll_message_set(
            "Choose a characters folder and tick a file, or select an armature and tick 'Use the Selected Armature'"
        )  # type: ignore[attr-defined]
        return False
    return True


def _poll_idle(cls: type, task: str, doing: str) -> bool:
    if bridge.is_running(task):
        cls.poll_message_set(f"Pose Factory is {doing}; wait for it or press Stop in the panel")  # type: ignore[attr-defined]
        return False
    return True


class POSEFACTORY_OT_scan_characters(bpy.types.Operator):
    bl_idname = "posefactory.scan_characters"
    bl_label = "Pose Factory: Rescan Characters"
    bl_description = "List the .fbx, .glb and .gltf files of the characters folder again"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender reads a set)

    background: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="In Background", description="Scan in a worker thread and return at once", options={"HIDDEN", "SKIP_SAVE"}
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not context.scene.pose_factory.characters_folder:
            cls.poll_message_set("Choose a characters folder first")
            return False
        return _poll_idle(cls, "scan", "scanning the characters folder")

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        self.background = True
        return self.execute(context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        settings = context.scene.pose_factory
        if self.background:
            start_scan(context)
            self.report({"INFO"}, f"Scanning {settings.characters_folder}...")
            return {"FINISHED"}
        problem = scan_characters(context)
        if problem:
            self.report({"WARNING"}, problem)
            return {"CANCELLED"}
        self.report({"INFO"}, f"{len(settings.characters)} character files in {settings.characters_folder}")
        return {"FINISHED"}


class POSEFACTORY_OT_estimate_cost(_PoseFactoryOperator, bpy.types.Operator):
    bl_idname = "posefactory.estimate_cost"
    bl_label = "Pose Factory: Estimate Cost"
    bl_description = "Estimate what rendering the current settings on a GPU pod (or with the chosen provider) costs"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_characters(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        if self._connection(context) is None:
            return {"CANCELLED"}
        refresh_estimate(context)
        estimate = context.window_manager.pose_factory.estimate
        if estimate.error or estimate.refusal:
            self.report({"ERROR"}, estimate.error or f"{estimate.sentence}: refused, {estimate.refusal}")
            return {"CANCELLED"}
        summary = f"{format_usd(estimate.total)} total, {format_usd(estimate.per_image)} per image ({estimate.source})"
        note = f"; {estimate.warning}" if estimate.warning else ""
        self.report({"WARNING" if estimate.warning else "INFO"}, f"{estimate.sentence}: {summary}{note}")
        return {"FINISHED"}


class POSEFACTORY_OT_submit_job(_PoseFactoryOperator, bpy.types.Operator):
    bl_idname = "posefactory.submit_job"
    bl_label = "Pose Factory: Submit Job"
    bl_description = "Upload the ticked characters and queue a render job for the GPU agents (checks the cost limits first)"

    confirmed: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Confirmed",
        description="Submit even though the estimate is above the warning threshold",
        options={"SKIP_SAVE"},
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_idle(cls, "submit", "submitting a job") and _poll_characters(cls, context)

    def _warning(self, context: bpy.types.Context, link: Connection) -> tuple[str, str]:
        """(refusal, warning) of the pod estimate, exactly as submit re-checks it."""
        settings = context.scene.pose_factory
        try:
            count = count_images(
                character_count(context), settings.angles, settings.elevations, settings.frames, animation_count(settings)
            )
        except ValueError as error:
            return str(error), ""
        resolution = (settings.resolution[0], settings.resolution[1])
        view = cost_view(count.images, settings.preset, "local", resolution, link.settings, measured_dirs(context))
        return view.refusal, view.warning

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        self.background = True
        link = self._connection(context, "store")
        if link is None:
            return {"CANCELLED"}
        refusal, warning = self._warning(context, link)
        if warning and not refusal:
            self.confirmed = True
            return context.window_manager.invoke_confirm(  # type: ignore[no-any-return]
                self, event, title="Pose Factory: Submit Job", message=f"{warning}. Submit anyway?", confirm_text="Submit"
            )
        return self.execute(context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        link = self._connection(context, "store")
        if link is None:
            return {"CANCELLED"}
        refusal, warning = self._warning(context, link)
        if refusal:
            self.report({"ERROR"}, f"Not submitted: {refusal}")
            return {"CANCELLED"}
        if warning and not self.confirmed:
            self.report({"ERROR"}, f"Not submitted: {warning} (confirm the dialog, or pass confirmed=True from a script)")
            return {"CANCELLED"}
        try:
            request = render_request(context)
        except PoseFactoryError as error:
            self.report({"ERROR"}, plain_message(error))
            return {"CANCELLED"}
        work = submit_work(link, request, measured_dirs(context))
        return self._run(context, "submit", "Submitting job", work, link)


class POSEFACTORY_OT_refresh_jobs(_PoseFactoryOperator, bpy.types.Operator):
    bl_idname = "posefactory.refresh_jobs"
    bl_label = "Pose Factory: Refresh Jobs"
    bl_description = "Read every job's state and progress from the job store"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_idle(cls, "jobs", "reading the job list")

    def execute(self, context: bpy.types.Context) -> set[str]:
        link = self._connection(context, "store")
        if link is None:
            return {"CANCELLED"}
        return self._run(context, "jobs", "Reading jobs", refresh_work(link), link)


class POSEFACTORY_OT_cancel_job(_PoseFactoryOperator, bpy.types.Operator):
    bl_idname = "posefactory.cancel_job"
    bl_label = "Pose Factory: Cancel Job"
    bl_description = "Cancel the selected job; a running job stops at its next progress report"

    job_id: bpy.props.StringProperty(name="Job ID", description="Empty cancels the job selected in the list")  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_selected_job(cls, context, "jobs", "reading the job list", completed=False)

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        self.background = True
        job = context.window_manager.pose_factory.active_job()
        name = self.job_id or (job.name if job is not None else "the selected job")
        return context.window_manager.invoke_confirm(  # type: ignore[no-any-return]
            self, event, title="Pose Factory: Cancel Job", message=f"Cancel {name}? Its images so far are not kept.",
            confirm_text="Cancel Job",
        )  # fmt: skip

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            job_id = _job_id(context, self.job_id)
        except PoseFactoryError as error:
            self.report({"ERROR"}, plain_message(error))
            return {"CANCELLED"}
        link = self._connection(context, "store")
        if link is None:
            return {"CANCELLED"}
        return self._run(context, "jobs", f"Cancelling {job_id}", cancel_work(link, job_id), link)


class POSEFACTORY_OT_download_results(_PoseFactoryOperator, bpy.types.Operator):
    bl_idname = "posefactory.download_results"
    bl_label = "Pose Factory: Download Results"
    bl_description = "Download and verify the selected job's results into <download folder>/<job id>"

    job_id: bpy.props.StringProperty(name="Job ID", description="Empty downloads the job selected in the list")  # type: ignore[valid-type]
    directory: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Folder", description="Download folder; empty uses the Jobs panel's folder", subtype="DIR_PATH"
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_selected_job(cls, context, "download", "downloading results", completed=True)

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            job_id = _job_id(context, self.job_id)
            root = Path(bpy.path.abspath(self.directory)) if self.directory else results_root(context)
            target = resolve_under(root, job_id)
        except (PoseFactoryError, ValueError) as error:
            self.report({"ERROR"}, plain_message(error))
            return {"CANCELLED"}
        link = self._connection(context, "store")
        if link is None:
            return {"CANCELLED"}
        return self._run(context, "download", f"Downloading {job_id}", download_work(link, job_id, target), link)


def _poll_results(cls: type, context: bpy.types.Context) -> bool:
    """A results folder is known (a download or a local render); whether it still exists is checked on execute."""
    if not results_folder(context):
        cls.poll_message_set("Download a completed job (or render here) first")  # type: ignore[attr-defined]
        return False
    return True


def _results_or_report(operator: bpy.types.Operator, context: bpy.types.Context, with_dataset: bool = True) -> Path | None:
    """The results folder if it exists (and holds a ``dataset.json``); else an error report and ``None``."""
    folder = Path(results_folder(context)) if results_folder(context) else None
    if folder is None or not folder.is_dir():
        operator.report({"ERROR"}, f"No results folder {folder}: download a completed job or render here first")
        return None
    if with_dataset and not (folder / DATASET_FILE).is_file():
        operator.report({"ERROR"}, f"{folder} has no {DATASET_FILE}: it is not a finished dataset")
        return None
    return folder


class POSEFACTORY_OT_open_results_folder(bpy.types.Operator):
    bl_idname = "posefactory.open_results_folder"
    bl_label = "Pose Factory: Open Results Folder"
    bl_description = "Open the downloaded results (or the last local render) in the file browser of your system"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_results(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        folder = _results_or_report(self, context, with_dataset=False)
        if folder is None:
            return {"CANCELLED"}
        if not bpy.app.background:
            bpy.ops.wm.path_open(filepath=str(folder))
        self.report({"INFO"}, f"Results in {folder}")
        return {"FINISHED"}


def _show_in_image_editor(context: bpy.types.Context, image: bpy.types.Image) -> bool:
    screen = context.screen
    for area in screen.areas if screen else ():
        if area.type == "IMAGE_EDITOR":
            area.spaces.active.image = image
            return True
    return False


def _write_contact_sheet(folder: Path, sheet: Path) -> None:
    """Draw ``sheet`` from the dataset in ``folder``; Pillow may be missing from a plain Blender."""
    try:
        from ..core.contact_sheets import write_contact_sheet
    except ImportError as error:
        raise UsageError(
            f"drawing a contact sheet needs Pillow, which this Blender lacks ({error.name}); "
            f"run `pose-factory preview {folder} --out {sheet}` outside Blender, then load it again"
        ) from None
    write_contact_sheet(folder, sheet)


class POSEFACTORY_OT_load_contact_sheet(bpy.types.Operator):
    bl_idname = "posefactory.load_contact_sheet"
    bl_label = "Pose Factory: Load Contact Sheet"
    bl_description = "Draw the skeletons of the results on one contact sheet and show it in an Image Editor"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender reads a set)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_results(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        folder = _results_or_report(self, context)
        if folder is None:
            return {"CANCELLED"}
        sheet = folder / defaults.CONTACT_SHEET_NAME
        try:
            if not sheet.is_file():
                _write_contact_sheet(folder, sheet)
            image = bpy.data.images.load(str(sheet), check_existing=True)
            image.reload()
        except (PoseFactoryError, OSError, RuntimeError) as error:
            self.report({"ERROR"}, plain_message(error))
            return {"CANCELLED"}
        shown = _show_in_image_editor(context, image)
        where = "in the Image Editor" if shown else f"as image '{image.name}' (open an Image Editor to see it)"
        self.report({"INFO"}, f"Contact sheet {sheet} loaded {where}")
        return {"FINISHED"}


class POSEFACTORY_OT_check_labels(_PoseFactoryOperator, bpy.types.Operator):
    bl_idname = "posefactory.check_labels"
    bl_label = "Pose Factory: Check Labels"
    bl_description = (
        "Compare the results' labels with MediaPipe Pose, an independent detector, and open the report (qa.html); "
        "needs the QA interpreter (`make qa-setup`)"
    )

    open_report: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Open Report",
        description="Open qa.html in the web browser when the check is done",
        default=True,
        options={"SKIP_SAVE"},
    )

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_results(cls, context) and _poll_idle(cls, "qa", "checking labels")

    def execute(self, context: bpy.types.Context) -> set[str]:
        folder = _results_or_report(self, context)
        if folder is None:
            return {"CANCELLED"}
        link = self._connection(context)
        if link is None:
            return {"CANCELLED"}
        return self._run(context, "qa", "Checking labels", check_labels_work(folder, self.open_report), link)


_MODE_DESCRIPTIONS = {
    "structure": "Keep the render's edges and layout (the best choice for keeping the pose)",
    "sketch": "Treat the render as a sketch to fill in (freer, the pose drifts more often)",
}
_MODE_ITEMS = [(mode, mode.title(), _MODE_DESCRIPTIONS.get(mode, mode)) for mode in MODES]


def _dataset_image_count(folder: Path) -> int:
    """Images a results folder's ``dataset.json`` lists (0 when it cannot be read: the run then says why)."""
    try:
        return len(json.loads((folder / DATASET_FILE).read_text(encoding="utf-8")).get("images", []))
    except (OSError, ValueError, AttributeError):
        return 0


def _enhance_estimate_changed(self: POSEFACTORY_OT_enhance_dataset, context: bpy.types.Context) -> None:
    self.estimate_again(context)


class POSEFACTORY_OT_enhance_dataset(_PoseFactoryOperator, bpy.types.Operator):
    bl_idname = "posefactory.enhance_dataset"
    bl_label = "Pose Factory: Enhance with Stability AI"
    bl_description = (
        "Make the results photo-real with Stability AI (paid per image) and keep only the images whose pose still "
        "matches the labels; needs a Stability key and the QA interpreter (`make qa-setup`)"
    )

    prompt: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Prompt", description='What the images should look like, e.g. "a photo of a person in a park"'
    )
    negative_prompt: bpy.props.StringProperty(name="Negative Prompt", description="What they should not look like")  # type: ignore[valid-type]
    mode: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Mode", items=_MODE_ITEMS, default=defaults.ENHANCE_MODE, update=_enhance_estimate_changed
    )
    control_strength: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Control Strength",
        description="How closely the result follows the render (0-1)",
        default=defaults.ENHANCE_CONTROL_STRENGTH,
        min=0.0,
        max=1.0,
    )
    variations: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Variations",
        description="Enhanced images per rendered image (each is paid)",
        default=defaults.ENHANCE_VARIATIONS,
        min=1,
        max=defaults.ENHANCE_MAX_VARIATIONS,
        update=_enhance_estimate_changed,
    )
    seed: bpy.props.IntProperty(name="Seed", description="Seed of the first request; 0 draws one", default=0, min=0)  # type: ignore[valid-type]
    max_error: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Max Body Error",
        description="QA gate: drop images whose body error against the labels is above this many body heights",
        default=defaults.ENHANCE_MAX_ERROR,
        min=0.001,
        max=1.0,
        precision=3,
    )
    confirmed: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Confirmed", description="Start even though the estimate is above the warning threshold", options={"SKIP_SAVE"}
    )
    estimate_lines: bpy.props.StringProperty(options={"HIDDEN", "SKIP_SAVE"})  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_results(cls, context) and _poll_idle(cls, "enhance", "enhancing a dataset")

    def estimate_again(self, context: bpy.types.Context) -> None:
        """The dialog's cost lines (``ICON|text`` per line), computed when it opens and when mode or variations change:
        the dialog redraws on every mouse move, so drawing it must not read the dataset or the cost config."""
        link = current_connection().link
        folder = results_folder(context)
        lines = []
        if link is None:
            lines.append(f"ERROR|{current_connection().error or 'Reading the settings...'}")
        else:
            images = _dataset_image_count(Path(folder)) if folder else 0
            view = enhance_estimate(images, enhance_options("-", mode=self.mode, variations=self.variations), link.settings)
            if view.refusal:
                lines.append(f"CANCEL|Refused: {view.refusal}")
            else:
                lines.append(f"INFO|{images} images: {view.summary()} ({view.source})")
            if view.warning:
                lines.append(f"ERROR|{view.warning}: pressing Enhance confirms it")
            if not link.stability_api_key():
                lines.append(f"ERROR|{NOT_CONFIGURED['stability']}")
        lines.append("INFO|Faces and hands may change; the QA gate checks the body pose only")
        self.estimate_lines = "\n".join(lines)

    def _options(self) -> EnhanceOptions:
        """The dialog's values, validated like the CLI's (Blender's floats are single precision: rounded back)."""
        return enhance_options(
            self.prompt,
            self.negative_prompt,
            self.mode,
            round(self.control_strength, 4),
            self.variations,
            self.seed or None,
            round(self.max_error, 4),
        )

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        self.background = True
        self.confirmed = True  # the dialog shows the estimate and any warning: pressing Enhance confirms them
        refresh_connection(context)
        self.estimate_again(context)
        return context.window_manager.invoke_props_dialog(  # type: ignore[no-any-return]
            self, width=460, title="Enhance with Stability AI", confirm_text="Enhance"
        )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        for name in ("prompt", "negative_prompt", "mode", "control_strength", "variations", "seed", "max_error"):
            layout.prop(self, name)
        box = layout.box()
        for line in self.estimate_lines.split("\n") if self.estimate_lines else ():
            icon, _, text = line.partition("|")
            row = box.row()
            row.alert = icon in ("CANCEL", "ERROR")
            row.label(text=text, icon=icon)

    def execute(self, context: bpy.types.Context) -> set[str]:
        folder = _results_or_report(self, context)
        if folder is None:
            return {"CANCELLED"}
        link = self._connection(context, "stability")
        if link is None:
            return {"CANCELLED"}
        if not link.stability_api_key():
            self.report({"ERROR"}, NOT_CONFIGURED["stability"])
            return {"CANCELLED"}
        try:
            options = self._options()
        except ValueError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        view = enhance_estimate(_dataset_image_count(folder), options, link.settings)
        if view.refusal:
            self.report({"ERROR"}, f"Not started: {view.refusal}")
            return {"CANCELLED"}
        if view.warning and not self.confirmed:
            self.report({"ERROR"}, f"Not started: {view.warning} (confirm the dialog, or pass confirmed=True from a script)")
            return {"CANCELLED"}
        return self._run(context, "enhance", "Enhancing with Stability AI", enhance_work(link, folder, options), link)


def _poll_pods(cls: type, context: bpy.types.Context) -> bool:
    if not _poll_idle(cls, "pods", "talking to RunPod"):
        return False
    snapshot = current_connection()
    link = snapshot.link
    if link is None:
        cls.poll_message_set(snapshot.error or "Reading the settings...")  # type: ignore[attr-defined]
        return False
    if not link.runpod_api_key():
        cls.poll_message_set(NOT_CONFIGURED["runpod"])  # type: ignore[attr-defined]
        return False
    if not link.pod_id:
        cls.poll_message_set(NOT_CONFIGURED["pod"])  # type: ignore[attr-defined]
        return False
    return True


class _PodOperator(_PoseFactoryOperator):
    action = ""

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_pods(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        link = self._connection(context, "runpod")
        if link is None:
            return {"CANCELLED"}
        label = {
            "refresh": "Reading pod status",
            "start": "Starting pod",
            "stop": "Stopping pod",
            "terminate": "Terminating pod",
        }[self.action]
        return self._run(context, "pods", label, pod_work(link, self.action), link)


class POSEFACTORY_OT_pod_refresh(_PodOperator, bpy.types.Operator):
    bl_idname = "posefactory.pod_refresh"
    bl_label = "Pose Factory: Refresh Pod"
    bl_description = "Read the configured RunPod pod's status, GPU and price per hour"
    action = "refresh"


class POSEFACTORY_OT_pod_start(_PodOperator, bpy.types.Operator):
    bl_idname = "posefactory.pod_start"
    bl_label = "Pose Factory: Start Pod"
    bl_description = "Start (resume) the configured RunPod pod; it is billed per hour while running"
    action = "start"


class POSEFACTORY_OT_pod_stop(_PodOperator, bpy.types.Operator):
    bl_idname = "posefactory.pod_stop"
    bl_label = "Pose Factory: Stop Pod"
    bl_description = "Stop the configured RunPod pod (its volume is kept; jobs it is rendering are taken over later)"
    action = "stop"

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        self.background = True
        return context.window_manager.invoke_confirm(  # type: ignore[no-any-return]
            self, event, title="Pose Factory: Stop Pod", message="Stop the pod? Jobs it is rendering will wait for another agent."
        )


class POSEFACTORY_OT_pod_terminate(_PodOperator, bpy.types.Operator):
    bl_idname = "posefactory.pod_terminate"
    bl_label = "Pose Factory: Terminate Pod"
    bl_description = (
        "Delete the configured RunPod pod and its volume (a stopped pod's volume is still billed); "
        "refused while its agent renders a job"
    )
    action = "terminate"

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        self.background = True
        return context.window_manager.invoke_confirm(  # type: ignore[no-any-return]
            self, event, title="Pose Factory: Terminate Pod",
            message="Terminate the pod? It and its volume are deleted; nothing on it can be recovered.",
            confirm_text="Terminate",
        )  # fmt: skip


class POSEFACTORY_OT_render_local(_PoseFactoryOperator, bpy.types.Operator):
    bl_idname = "posefactory.render_local"
    bl_label = "Pose Factory: Render Here"
    bl_description = "Render the ticked characters on this computer in a background Blender process"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_idle(cls, "render", "rendering here") and _poll_characters(cls, context)

    def execute(self, context: bpy.types.Context) -> set[str]:
        link = self._connection(context)
        if link is None:
            return {"CANCELLED"}
        try:
            request = render_request(context)
            out_dir = resolve_under(local_output_root(context), request.output_name)
        except (PoseFactoryError, ValueError) as error:
            self.report({"ERROR"}, plain_message(error))
            return {"CANCELLED"}
        replace_existing = context.scene.pose_factory.replace_existing
        work = render_local_work(request, out_dir, bpy.app.binary_path, sys.executable, replace_existing)
        return self._run(context, "render", "Rendering here", work, link)


_GENDER_ITEMS = (("male", "Male", ""), ("female", "Female", ""), ("drawn", "Drawn", "Drawn from the population"))


class POSEFACTORY_OT_generate_characters(_PoseFactoryOperator, bpy.types.Operator):
    bl_idname = "posefactory.generate_characters"
    bl_label = "Pose Factory: Generate Characters"
    bl_description = (
        "Generate people (the Anny body model) as rigged FBX/GLB characters into the characters folder; "
        "needs the characters interpreter (`make characters-setup`)"
    )
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender reads a set)

    describe: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Describe", description='Optional, e.g. "tall elderly woman, heavy build"; the fields below override it'
    )
    gender: bpy.props.EnumProperty(name="Gender", items=_GENDER_ITEMS, default="female")  # type: ignore[valid-type]
    age: bpy.props.FloatProperty(name="Age", description="Years", default=30.0, min=MIN_AGE_YEARS, max=MAX_AGE_YEARS)  # type: ignore[valid-type]
    height: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Height",
        description="Metres; 0 = the median for age and gender",
        default=0.0,
        min=0.0,
        max=MAX_HEIGHT_M,
        unit="LENGTH",
    )
    body_type: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Body Type", items=[(name, name.capitalize(), "") for name in BODY_TYPES], default="average"
    )
    ethnicity: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Ethnicity", items=[(name, name.capitalize(), "") for name in ETHNICITIES], default="mixed"
    )
    count: bpy.props.IntProperty(name="Count", description="People to make", default=1, min=1, max=MAX_PEOPLE_PER_RUN)  # type: ignore[valid-type]
    seed: bpy.props.IntProperty(name="Seed", description="Person i uses seed + i", default=0, min=0)  # type: ignore[valid-type]
    population: bpy.props.BoolProperty(name="Population", description="Draw the fields not given from the population")  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_idle(cls, "characters", "generating people")

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        self.background = True
        return context.window_manager.invoke_props_dialog(self, width=380)  # type: ignore[no-any-return]

    def _arguments(self) -> list[str]:
        """The ``characters generate`` options, checked here first so a mistake is reported before anything starts."""
        given = {
            "gender": None if self.gender == "drawn" else self.gender,
            "age": self.age,
            "height": self.height or None,
            "body_type": self.body_type,
            "ethnicity": self.ethnicity,
        }
        if self.describe:  # the description speaks for every field the user left alone
            given = {name: value for name, value in given.items() if self.properties.is_property_set(name)}
        spec_from_options(self.describe or None, **given)
        arguments = ["--describe", self.describe] if self.describe else []
        for name, value in given.items():
            if value is not None:
                arguments += [f"--{name.replace('_', '-')}", str(value)]
        arguments += ["--count", str(self.count), "--seed", str(self.seed)]
        return arguments + (["--population"] if self.population or self.gender == "drawn" else [])

    def execute(self, context: bpy.types.Context) -> set[str]:
        link = self._connection(context)
        if link is None:
            return {"CANCELLED"}
        settings = context.scene.pose_factory
        folder = (
            Path(bpy.path.abspath(settings.characters_folder)) if settings.characters_folder else user_data_dir() / "characters"
        )
        try:
            arguments = ["characters", "generate", *self._arguments(), "--out", str(folder)]
        except PoseFactoryError as error:
            self.report({"ERROR"}, plain_message(error))
            return {"CANCELLED"}
        except ValueError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        command = cli_command(arguments, bpy.app.binary_path, sys.executable)
        return self._run(context, "characters", "Generating people", generate_characters_work(command, folder), link)


class POSEFACTORY_OT_load_character(bpy.types.Operator):
    bl_idname = "posefactory.load_character"
    bl_label = "Pose Factory: Load Character into Scene"
    bl_description = "Import the active character file of the list into this scene, to look at it"
    bl_options = {"REGISTER", "UNDO"}  # noqa: RUF012 (Blender reads a plain set)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        settings = context.scene.pose_factory
        if not 0 <= settings.character_index < len(settings.characters):
            cls.poll_message_set("Pick a character in the list first")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        settings = context.scene.pose_factory
        item = settings.characters[settings.character_index]
        path = Path(item.path)
        problem = character_file_problem(path)
        if problem is not None:
            self.report({"ERROR"}, f"{path.name}: {problem}")
            return {"CANCELLED"}
        try:
            if path.suffix.lower() == ".fbx":
                bpy.ops.import_scene.fbx(filepath=str(path))
            else:
                bpy.ops.import_scene.gltf(filepath=str(path))
        except RuntimeError as error:
            self.report({"ERROR"}, f"{path.name} could not be imported: {str(error).strip().splitlines()[-1]}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Loaded {item.name}")
        return {"FINISHED"}


_CONFIRM_STOP = {
    "render": "Stop rendering here? The images so far stay on disk but the dataset is incomplete.",
    "submit": "Stop submitting? Characters already uploaded stay in the store; no job is queued.",
}


class POSEFACTORY_OT_cancel_task(bpy.types.Operator):
    bl_idname = "posefactory.cancel_task"
    bl_label = "Pose Factory: Stop Task"
    bl_description = "Stop a background task (a local render is terminated; a network request is abandoned)"

    task: bpy.props.StringProperty(name="Task", description="Task to stop; empty stops every task")  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not bridge.has_work():
            cls.poll_message_set("No background task is running")
            return False
        return True

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        message = _CONFIRM_STOP.get(self.task)
        if message is None:
            return self.execute(context)
        return context.window_manager.invoke_confirm(  # type: ignore[no-any-return]
            self, event, title="Pose Factory: Stop Task", message=message, confirm_text="Stop"
        )

    def execute(self, context: bpy.types.Context) -> set[str]:
        asked = bridge.cancel(self.task or None)
        self.report({"INFO"}, f"Stopping {', '.join(asked)}" if asked else "Nothing to stop")
        return {"FINISHED"}


class POSEFACTORY_OT_test_store(_PoseFactoryOperator, bpy.types.Operator):
    bl_idname = "posefactory.test_store"
    bl_label = "Pose Factory: Test Store Connection"
    bl_description = "Reach the job store with the current settings and say what worked: listing, writing, deleting"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_idle(cls, "test", "testing a connection")

    def execute(self, context: bpy.types.Context) -> set[str]:
        link = self._connection(context, "store")
        if link is None:
            return {"CANCELLED"}
        return self._run(context, "test", "Testing the job store", test_store_work(link), link)


class POSEFACTORY_OT_test_runpod(_PoseFactoryOperator, bpy.types.Operator):
    bl_idname = "posefactory.test_runpod"
    bl_label = "Pose Factory: Test RunPod Connection"
    bl_description = "Reach RunPod with the current key and say what worked: the key, the pod list, the configured pod"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return _poll_idle(cls, "test", "testing a connection")

    def execute(self, context: bpy.types.Context) -> set[str]:
        link = self._connection(context, "runpod")
        if link is None:
            return {"CANCELLED"}
        return self._run(context, "test", "Testing RunPod", test_runpod_work(link), link)


classes = (
    POSEFACTORY_OT_scan_characters,
    POSEFACTORY_OT_generate_characters,
    POSEFACTORY_OT_load_character,
    POSEFACTORY_OT_estimate_cost,
    POSEFACTORY_OT_submit_job,
    POSEFACTORY_OT_refresh_jobs,
    POSEFACTORY_OT_cancel_job,
    POSEFACTORY_OT_download_results,
    POSEFACTORY_OT_open_results_folder,
    POSEFACTORY_OT_load_contact_sheet,
    POSEFACTORY_OT_check_labels,
    POSEFACTORY_OT_enhance_dataset,
    POSEFACTORY_OT_pod_refresh,
    POSEFACTORY_OT_pod_start,
    POSEFACTORY_OT_pod_stop,
    POSEFACTORY_OT_pod_terminate,
    POSEFACTORY_OT_render_local,
    POSEFACTORY_OT_cancel_task,
    POSEFACTORY_OT_test_store,
    POSEFACTORY_OT_test_runpod,
)
register, unregister = bpy.utils.register_classes_factory(classes)
