"""Pose Factory operators (F3 search groups them under "Pose Factory: ...").

Each operator is thin: it gathers the Scene settings and the preferences on the main thread,
hands a function from :mod:`.work` to :mod:`.bridge`, and reports one line. ``execute()``
blocks (scripts, tests, the bpy module); ``invoke()`` sets ``background`` and returns at once
while a worker thread does the network or render work and the modal watcher drains its messages.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import bpy

from ..core import defaults
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
from ..core.dataset import DATASET_FILE
from ..core.enhance_options import MODES, EnhanceOptions, enhance_options
from ..core.errors import PoseFactoryError, UsageError
from ..core.manifest import PASSES, validate_job_id
from ..core.queue import FINAL_STATES
from ..core.security import resolve_under, safe_slug
from . import bridge
from .messages import plain_message
from .preferences import Connection, connection
from .properties import animation_count, chosen_motions
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
    render_command,
    render_local_work,
    search_dirs,
    submit_work,
)

CONTACT_SHEET_NAME = "contact_sheet.png"
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
OFFLINE_NOTE = "Blender is in offline mode: allow online access in Preferences > System > Network"


def _is_loopback(url: str) -> bool:
    return (urlparse(url).hostname or "") in _LOOPBACK_HOSTS


def offline_reason(link: Connection, service: str) -> str:
    """Why Blender's offline mode blocks ``service`` (``store``, ``runpod`` or ``stability``), or ``""``.

    Local folders and loopback endpoints (a test server on this machine) are not "online".
    """
    if bpy.app.online_access:
        return ""
    if service == "store":
        if not link.is_s3 or _is_loopback(link.settings.s3_endpoint):
            return ""
        return f"{OFFLINE_NOTE} (needed to reach the S3 store)"
    if service == "stability":
        return "" if _is_loopback(link.settings.stability_api_base_url) else f"{OFFLINE_NOTE} (needed to reach Stability AI)"
    if _is_loopback(link.settings.runpod_api_base_url):
        return ""
    return f"{OFFLINE_NOTE} (needed to reach RunPod)"


def selected_armature(context: bpy.types.Context) -> bpy.types.Object | None:
    """The active object if it is an armature, else the first selected armature."""
    active = getattr(context, "active_object", None)
    if active is not None and active.type == "ARMATURE":
        return active
    return next((obj for obj in getattr(context, "selected_objects", ()) if obj.type == "ARMATURE"), None)


def character_count(context: bpy.types.Context) -> int:
    """Characters a job would render: ticked files plus the selected armature when asked for."""
    settings = context.scene.pose_factory
    ticked = sum(1 for item in settings.characters if item.enabled)
    return ticked + int(settings.use_selected_armature and selected_armature(context) is not None)


def _export_armature(context: bpy.types.Context, armature: bpy.types.Object) -> Path:
    """Export ``armature`` and its child meshes (with animation) to a GLB in a fresh temp folder."""
    folder = Path(tempfile.mkdtemp(prefix="pose-factory-armature-"))
    path = folder / f"{safe_slug(armature.name)}.glb"
    objects = [armature, *(child for child in armature.children_recursive if child.type == "MESH")]
    previous = [obj for obj in context.view_layer.objects if obj.select_get()]
    try:
        for obj in previous:
            obj.select_set(False)
        for obj in objects:
            obj.select_set(True)
        bpy.ops.export_scene.gltf(filepath=str(path), export_format="GLB", use_selection=True, export_animations=True)
    finally:
        for obj in objects:
            obj.select_set(False)
        for obj in previous:
            obj.select_set(True)
    if not path.is_file():
        raise UsageError(f"exporting {armature.name} to glTF wrote nothing")
    return path


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
        output_name = safe_slug(settings.output_name or "dataset")
    except ValueError as error:
        raise UsageError(f"output name: {error}") from None
    return RenderRequest(
        files=files,
        angles=settings.angles,
        elevations=settings.elevations,
        frames=settings.frames,
        preset=settings.preset,
        resolution=(settings.resolution[0], settings.resolution[1]),
        labels=tuple(sorted(settings.labels)),
        output_name=output_name,
        temporary_files=temporary,
        motions=chosen_motions(settings),
        mirror=settings.mirror_motions and bool(settings.motions),
        randomize=settings.scene_variety,
        ground=settings.ground and settings.scene_variety != "none",
        passes=tuple(name for name in PASSES if name in settings.passes),
    )


def _folder(chosen: str, beside_blend: str, in_user_data: str) -> Path:
    """The chosen folder, else one beside the saved .blend file, else one in the user data directory."""
    if chosen:
        return Path(bpy.path.abspath(chosen))
    if bpy.data.filepath:
        return Path(bpy.path.abspath(f"//{beside_blend}"))
    return user_data_dir() / in_user_data


def results_root(context: bpy.types.Context) -> Path:
    """Where downloads go (each job into its own ``<job id>`` folder below it)."""
    return _folder(context.scene.pose_factory.download_folder, "pose_factory_results", "results")


def local_output_root(context: bpy.types.Context) -> Path:
    """Where 'Render Here' writes (each dataset into its ``<output name>`` folder below it)."""
    return _folder(context.scene.pose_factory.local_output_folder, "pose_factory_renders", "renders")


def measured_dirs(context: bpy.types.Context) -> tuple[str, ...]:
    """Downloaded job results, whose pod timings make the cost estimate a measured one (as ``submit`` does).

    Local renders are left out: this computer's speed says nothing about a GPU pod's.
    """
    return search_dirs([str(results_root(context))])


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
        try:
            link = connection(context)
        except PoseFactoryError as error:
            self.report({"ERROR"}, plain_message(error))  # type: ignore[attr-defined]
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
            bridge.ensure_watcher(context)
            self.report({"INFO"}, f"{label}... (Esc stops waiting)")  # type: ignore[attr-defined]
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
        cls.poll_message_set(f"Pose Factory is {doing}; wait for it or press Esc")  # type: ignore[attr-defined]
        return False
    return True


class POSEFACTORY_OT_scan_characters(bpy.types.Operator):
    bl_idname = "posefactory.scan_characters"
    bl_label = "Pose Factory: Rescan Characters"
    bl_description = "List the .fbx, .glb and .gltf files of the characters folder again"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not context.scene.pose_factory.characters_folder:
            cls.poll_message_set("Choose a characters folder first")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        from .properties import scan_characters

        settings = context.scene.pose_factory
        problem = scan_characters(settings)
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
        settings = context.scene.pose_factory
        link = self._connection(context)
        if link is None:
            return {"CANCELLED"}
        try:
            count = count_images(
                character_count(context), settings.angles, settings.elevations, settings.frames, animation_count(settings)
            )
        except ValueError as error:
            self.report({"ERROR"}, str(error))
            return {"CANCELLED"}
        resolution = (settings.resolution[0], settings.resolution[1])
        view = cost_view(count.images, settings.preset, settings.provider, resolution, link.settings, measured_dirs(context))
        if view.refusal:
            self.report({"ERROR"}, f"{count.sentence()}: refused, {view.refusal}")
            return {"CANCELLED"}
        note = f"; {view.warning}" if view.warning else ""
        self.report({"WARNING" if view.warning else "INFO"}, f"{count.sentence()}: {view.summary()} ({view.source}){note}")
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


def _results_folder(context: bpy.types.Context) -> Path | None:
    """The selected job's downloaded results, else the last local render; only if it exists."""
    runtime = context.window_manager.pose_factory
    job = runtime.active_job()
    for folder in (job.results_folder if job is not None else "", runtime.last_output_folder):
        if folder and Path(folder).is_dir():
            return Path(folder)
    return None


def _results_folder_or_report(operator: bpy.types.Operator, context: bpy.types.Context) -> Path | None:
    folder = _results_folder(context)
    if folder is None:
        operator.report({"ERROR"}, "No results folder yet: download a completed job or render here first")
    return folder


class POSEFACTORY_OT_open_results_folder(bpy.types.Operator):
    bl_idname = "posefactory.open_results_folder"
    bl_label = "Pose Factory: Open Results Folder"
    bl_description = "Open the downloaded results (or the last local render) in the file browser of your system"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if _results_folder(context) is None:
            cls.poll_message_set("Download a completed job (or render here) first")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        folder = _results_folder_or_report(self, context)
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

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        folder = _results_folder(context)
        if folder is None or not (folder / DATASET_FILE).is_file():
            cls.poll_message_set("Download a completed job (or render here) first: no dataset.json yet")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        folder = _results_folder_or_report(self, context)
        if folder is None:
            return {"CANCELLED"}
        sheet = folder / CONTACT_SHEET_NAME
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
        folder = _results_folder(context)
        if folder is None or not (folder / DATASET_FILE).is_file():
            cls.poll_message_set("Download a completed job (or render here) first: no dataset.json yet")
            return False
        return _poll_idle(cls, "qa", "checking labels")

    def execute(self, context: bpy.types.Context) -> set[str]:
        folder = _results_folder_or_report(self, context)
        if folder is None:
            return {"CANCELLED"}
        link = self._connection(context)
        if link is None:
            return {"CANCELLED"}
        return self._run(context, "qa", "Checking labels", check_labels_work(folder, self.open_report), link)


NO_STABILITY_KEY = "Stability AI is not configured: set STABILITY_API_KEY or type a key in the add-on preferences"
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
        name="Mode",
        items=_MODE_ITEMS,
        default=defaults.ENHANCE_MODE,
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

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        folder = _results_folder(context)
        if folder is None or not (folder / DATASET_FILE).is_file():
            cls.poll_message_set("Download a completed job (or render here) first: no dataset.json yet")
            return False
        return _poll_idle(cls, "enhance", "enhancing a dataset")

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
        return context.window_manager.invoke_props_dialog(  # type: ignore[no-any-return]
            self, width=460, title="Enhance with Stability AI", confirm_text="Enhance"
        )

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        for name in ("prompt", "negative_prompt", "mode", "control_strength", "variations", "seed", "max_error"):
            layout.prop(self, name)
        folder = _results_folder(context)
        box = layout.box()
        try:
            link = connection(context)
            options = self._options()
        except (PoseFactoryError, ValueError) as error:
            box.label(text=plain_message(error) if isinstance(error, PoseFactoryError) else str(error), icon="ERROR")
            return
        images = _dataset_image_count(folder) if folder is not None else 0
        view = enhance_estimate(images, options, link.settings)
        if view.refusal:
            row = box.row()
            row.alert = True
            row.label(text=f"Refused: {view.refusal}", icon="CANCEL")
        else:
            box.label(text=f"{images} images: {view.summary()} ({view.source})", icon="INFO")
        if view.warning:
            box.label(text=f"{view.warning}: pressing Enhance confirms it", icon="ERROR")
        if not link.stability_api_key():
            box.label(text=NO_STABILITY_KEY, icon="ERROR")
        box.label(text="Faces and hands may change; the QA gate checks the body pose only", icon="INFO")

    def execute(self, context: bpy.types.Context) -> set[str]:
        folder = _results_folder_or_report(self, context)
        if folder is None:
            return {"CANCELLED"}
        link = self._connection(context, "stability")
        if link is None:
            return {"CANCELLED"}
        if not link.stability_api_key():
            self.report({"ERROR"}, NO_STABILITY_KEY)
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
    try:
        link = connection(context)
    except PoseFactoryError as error:
        cls.poll_message_set(plain_message(error))  # type: ignore[attr-defined]
        return False
    if not link.runpod_api_key():
        cls.poll_message_set("RunPod is not configured: set RUNPOD_API_KEY or type a key in the add-on preferences")  # type: ignore[attr-defined]
        return False
    if not link.pod_id:
        cls.poll_message_set("No pod id: set one in the add-on preferences or run `pose-factory pods use ID`")  # type: ignore[attr-defined]
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
        label = {"refresh": "Reading pod status", "start": "Starting pod", "stop": "Stopping pod"}[self.action]
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
            command = render_command(bpy.app.binary_path, sys.executable, request, out_dir)
        except (PoseFactoryError, ValueError) as error:
            self.report({"ERROR"}, plain_message(error))
            return {"CANCELLED"}
        return self._run(context, "render", "Rendering here", render_local_work(command, out_dir, request), link)


_GENDER_ITEMS = (("male", "Male", ""), ("female", "Female", ""), ("drawn", "Drawn", "Drawn from the population"))


class POSEFACTORY_OT_generate_characters(_PoseFactoryOperator, bpy.types.Operator):
    bl_idname = "posefactory.generate_characters"
    bl_label = "Pose Factory: Generate Characters"
    bl_description = (
        "Generate people (the Anny body model) as rigged FBX/GLB characters into the characters folder; "
        "needs the characters interpreter (`make characters-setup`)"
    )

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


class POSEFACTORY_OT_cancel_task(bpy.types.Operator):
    bl_idname = "posefactory.cancel_task"
    bl_label = "Pose Factory: Stop Waiting"
    bl_description = "Stop a background task (a local render is terminated; a network request is abandoned)"

    task: bpy.props.StringProperty(name="Task", description="Task to stop; empty stops every task")  # type: ignore[valid-type]

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not bridge.has_work():
            cls.poll_message_set("No background task is running")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        asked = bridge.cancel(self.task or None)
        self.report({"INFO"}, f"Stopping {', '.join(asked)}" if asked else "Nothing to stop")
        return {"FINISHED"}


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
    POSEFACTORY_OT_render_local,
    POSEFACTORY_OT_cancel_task,
)
register, unregister = bpy.utils.register_classes_factory(classes)
