"""Blender properties: saved render settings on the Scene, transient job and task state on the WindowManager.

``Scene.pose_factory`` is saved with the .blend, so it holds only what a user would expect to
find again (folders, counts, names) and never a credential. ``WindowManager.pose_factory`` is
never saved: it mirrors what the worker threads report (jobs, task progress, pod status, the
last message) and is written only on the main thread by :func:`.bridge.drain`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy

from ..core import defaults
from ..core.errors import PoseFactoryError, UsageError
from ..core.frames import FRAME_SPEC_HELP
from ..core.manifest import PASSES
from ..core.motion import LIBRARY, animations_per_character
from ..core.presets import PRESETS
from ..core.skeletons import KEYPOINT_SETS

PRESET_ITEMS = [(name, name.title(), preset.description[:1].upper() + preset.description[1:]) for name, preset in PRESETS.items()]
SCENE_VARIETY_ITEMS = [
    ("none", "Studio", "The same grey studio, lights and camera framing in every image"),
    ("light", "Varied", "Backgrounds (world images), light direction and colour, camera lens, angle and roll vary"),
    ("full", "Realistic", "Also clothing colours and patterns, sleeve and trouser lengths, skin tone and photo backdrops"),
]
_PASS_DESCRIPTIONS = {
    "depth": "16-bit depth in millimetres per image (<image>_depth.png)",
    "mask": "Person mask per image, and COCO segmentation and area (<image>_mask.png)",
    "parts": "Body-part index mask per image: head, torso, each limb segment (<image>_parts.png; Standard and Quality presets)",
}
PASS_ITEMS = [(name, name.title(), _PASS_DESCRIPTIONS[name]) for name in PASSES]
LABEL_ITEMS = [(name, name, f"Write {name} keypoints") for name in KEYPOINT_SETS]
MESSAGE_LEVELS = [("INFO", "Info", ""), ("WARNING", "Warning", ""), ("ERROR", "Error", "")]
MOTION_ITEMS = [(name, name.replace("_", " ").title(), description.capitalize()) for name, (_, description) in LIBRARY.items()]


# Blender keeps only pointers to enum item strings: the list must outlive every draw (filled by register()).
_PROVIDER_ITEMS: list[tuple[str, str, str]] = []


def _provider_items(_self: Any, _context: Any) -> list[tuple[str, str, str]]:
    return _PROVIDER_ITEMS


def _load_provider_items() -> list[tuple[str, str, str]]:
    from ..core.cost import list_providers

    try:
        providers = list_providers()
    except PoseFactoryError:
        providers = [{"provider": defaults.COST_PROVIDER, "name": defaults.COST_PROVIDER, "type": "local"}]
    return [(item["provider"], item["name"], f"{item['name']} ({item['type']} pricing)") for item in providers]


def chosen_motions(settings: PoseFactorySceneSettings) -> tuple[str, ...]:
    """The ticked library motions in library order (``motions list`` order)."""
    return tuple(name for name in LIBRARY if name in settings.motions)


def animation_count(settings: PoseFactorySceneSettings) -> int:
    """Animations per character the settings render (each motion, mirrored too when ticked; else one)."""
    return animations_per_character(len(settings.motions), settings.mirror_motions)


_PREVIOUS_SCAN_WAIT_S = 2.0


def characters_folder_path(settings: PoseFactorySceneSettings) -> str:
    """The characters folder as an absolute path (``//`` resolved against the .blend file); ``""`` when none."""
    return bpy.path.abspath(settings.characters_folder) if settings.characters_folder else ""


def characters_in(folder: str) -> tuple[tuple[tuple[str, str], ...], str]:
    """``((name, path), ...)`` of the character files under ``folder``, and the problem when there are none."""
    from ..core.character_files import character_files

    if not folder:
        return (), "No characters folder chosen"
    try:
        return tuple((name, str(Path(path))) for name, path in character_files([folder]).items()), ""
    except UsageError as error:
        return (), str(error)


def fill_characters(settings: PoseFactorySceneSettings, files: tuple[tuple[str, str], ...]) -> None:
    """Refill the checklist: ticks are kept for files that were listed before; new files start ticked."""
    previous = {item.name: item.enabled for item in settings.characters}
    settings.characters.clear()
    for name, path in files:
        item = settings.characters.add()
        item.name, item.path, item.enabled = name, path, previous.get(name, True)


def scan_characters(context: bpy.types.Context) -> str:
    """List the scene's characters folder now (scripts, the bpy module); returns the problem or ``""``."""
    settings = context.scene.pose_factory
    files, problem = characters_in(characters_folder_path(settings))
    fill_characters(settings, files)
    context.window_manager.pose_factory.scan_problem = problem
    _settings_changed(settings, context)
    return problem


def start_scan(context: bpy.types.Context) -> None:
    """List the scene's characters folder in a worker thread (a home folder takes seconds: Blender stays responsive)."""
    from . import bridge, watcher

    folder = characters_folder_path(context.scene.pose_factory)
    scene = context.scene.name

    def work(task: bridge.TaskContext) -> str:
        files, problem = characters_in(folder)
        task.post(bridge.CharactersListed(scene, folder, files, problem))
        return problem or f"{len(files)} character files in {folder}"

    if not bridge.join("scan", _PREVIOUS_SCAN_WAIT_S):
        context.window_manager.pose_factory.scan_problem = "Still scanning the previous folder: rescan when it is done"
        return
    bridge.start("scan", "Scanning characters", work)
    watcher.ensure_watcher()


def _folder_changed(self: PoseFactorySceneSettings, context: bpy.types.Context) -> None:
    if bpy.app.background:  # no UI to keep responsive (scripts, the bpy module): list it now
        scan_characters(context)
    else:
        start_scan(context)


def _settings_changed(_self: bpy.types.PropertyGroup, context: bpy.types.Context) -> None:
    """A setting the image count or the estimate depends on changed: estimate again (never in draw)."""
    from .snapshot import refresh_estimate

    refresh_estimate(context)


class PoseFactoryCharacter(bpy.types.PropertyGroup):
    """One character file found in the characters folder (``name`` is its safe slug)."""

    path: bpy.props.StringProperty(name="File", subtype="FILE_PATH")  # type: ignore[valid-type]
    enabled: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Render", description="Include this character", default=True, update=_settings_changed
    )


class PoseFactorySceneSettings(bpy.types.PropertyGroup):
    """What to render; saved with the .blend file (no credentials here)."""

    characters_folder: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Characters Folder",
        description="Folder of .fbx, .glb or .gltf character files (searched recursively)",
        subtype="DIR_PATH",
        update=_folder_changed,
    )
    characters: bpy.props.CollectionProperty(type=PoseFactoryCharacter)  # type: ignore[valid-type]
    character_index: bpy.props.IntProperty(name="Active Character")  # type: ignore[valid-type]
    use_selected_armature: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Use the Selected Armature",
        description="Also render the armature selected in this scene (exported to a temporary GLB with its meshes)",
        default=False,
        update=_settings_changed,
    )
    angles: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Angles",
        description="Orbit views per elevation, evenly spaced around the character",
        default=defaults.ANGLES,
        min=defaults.MIN_ANGLES,
        max=defaults.MAX_ANGLES,
        update=_settings_changed,
    )
    elevations: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Elevations",
        description="Camera elevations in degrees, separated by commas (0 = level)",
        default=",".join(f"{value:g}" for value in defaults.ELEVATIONS_DEG),
        update=_settings_changed,
    )
    frames: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Frames", description=FRAME_SPEC_HELP, default=defaults.FRAMES, update=_settings_changed
    )
    preset: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Preset", items=PRESET_ITEMS, default=defaults.PRESET, update=_settings_changed
    )
    resolution: bpy.props.IntVectorProperty(  # type: ignore[valid-type]
        name="Resolution",
        description="Image width and height in pixels",
        size=2,
        default=defaults.RESOLUTION,
        min=defaults.MIN_RESOLUTION,
        max=defaults.MAX_RESOLUTION,
        update=_settings_changed,
    )
    labels: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Labels",
        description="Keypoint sets to write",
        items=LABEL_ITEMS,
        options={"ENUM_FLAG"},
        default=set(defaults.LABEL_SETS),
    )
    output_name: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Output Name", description="Name of the dataset (letters, digits, _ and -)", default=defaults.OUTPUT_NAME
    )
    motions: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Motions",
        description="Library motions retargeted onto every character instead of its own animation "
        "(none ticked: each character's own animation)",
        items=MOTION_ITEMS,
        options={"ENUM_FLAG"},
        default=set(),
        update=_settings_changed,
    )
    mirror_motions: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Mirror Motions",
        description="Also render every motion mirrored (left and right swapped)",
        default=False,
        update=_settings_changed,
    )
    scene_variety: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Scene Variety",
        description="How much backgrounds, light, camera and clothing vary between images (seeded: the same every run)",
        items=SCENE_VARIETY_ITEMS,
        default="none",
    )
    ground: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Shadow Ground",
        description="A floor that catches the character's shadow (Cycles; about triples the render time)",
        default=False,
    )
    passes: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Passes", description="Extra outputs written next to every image", items=PASS_ITEMS, options={"ENUM_FLAG"}
    )
    provider: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Provider", description="Whose prices the cost estimate uses", items=_provider_items, update=_settings_changed
    )
    download_folder: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Download Folder",
        description="Results are downloaded into <folder>/<job id>; empty uses the folder next to the .blend file or "
        "your user data directory",
        subtype="DIR_PATH",
        update=_settings_changed,
    )
    local_output_folder: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Output Folder", description="Where 'Render Here' writes its dataset", subtype="DIR_PATH"
    )
    replace_existing: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Replace Existing Dataset",
        description="Render Here removes a dataset already in the output folder (its images and labels) first; "
        "off, it refuses to mix new images into it",
        default=False,
    )


class PoseFactoryJob(bpy.types.PropertyGroup):
    """A job as last reported by the store (``name`` is the job id)."""

    state: bpy.props.StringProperty(name="State")  # type: ignore[valid-type]
    done: bpy.props.IntProperty(name="Done")  # type: ignore[valid-type]
    total: bpy.props.IntProperty(name="Total")  # type: ignore[valid-type]
    error: bpy.props.StringProperty(name="Error")  # type: ignore[valid-type]
    created_at: bpy.props.StringProperty(name="Created")  # type: ignore[valid-type]
    results_folder: bpy.props.StringProperty(name="Results Folder", subtype="DIR_PATH")  # type: ignore[valid-type]

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


class PoseFactoryTask(bpy.types.PropertyGroup):
    """A background task (``name`` is its kind: submit, jobs, download, pods, render, qa)."""

    label: bpy.props.StringProperty(name="Label")  # type: ignore[valid-type]
    running: bpy.props.BoolProperty(name="Running")  # type: ignore[valid-type]
    fraction: bpy.props.FloatProperty(name="Progress", min=0.0, max=1.0, subtype="FACTOR")  # type: ignore[valid-type]
    text: bpy.props.StringProperty(name="Text")  # type: ignore[valid-type]
    level: bpy.props.EnumProperty(name="Level", items=MESSAGE_LEVELS)  # type: ignore[valid-type]


class PoseFactoryLabelCheck(bpy.types.PropertyGroup):
    """The last label check (``pose-factory qa``) of a results folder; numbers are -1 when nothing was compared."""

    folder: bpy.props.StringProperty(name="Checked Folder", subtype="DIR_PATH")  # type: ignore[valid-type]
    report: bpy.props.StringProperty(name="Report", subtype="FILE_PATH")  # type: ignore[valid-type]
    detection_rate: bpy.props.FloatProperty(name="Detection Rate", default=-1.0)  # type: ignore[valid-type]
    body_error: bpy.props.FloatProperty(name="Median Body Error", default=-1.0, precision=3)  # type: ignore[valid-type]
    face_error: bpy.props.FloatProperty(name="Median Face Error", default=-1.0, precision=3)  # type: ignore[valid-type]
    flags: bpy.props.StringProperty(name="Flags", description="One problem per line")  # type: ignore[valid-type]


class PoseFactoryEstimate(bpy.types.PropertyGroup):
    """The Cost panel's estimate, computed when the settings change (:mod:`.snapshot`); ``key`` says for what."""

    key: bpy.props.StringProperty(name="For")  # type: ignore[valid-type]
    images: bpy.props.IntProperty(name="Images")  # type: ignore[valid-type]
    sentence: bpy.props.StringProperty(name="Count")  # type: ignore[valid-type]
    provider_name: bpy.props.StringProperty(name="Provider")  # type: ignore[valid-type]
    total: bpy.props.FloatProperty(name="Total USD")  # type: ignore[valid-type]
    per_image: bpy.props.FloatProperty(name="USD per Image")  # type: ignore[valid-type]
    source: bpy.props.StringProperty(name="Source")  # type: ignore[valid-type]
    warning: bpy.props.StringProperty(name="Warning")  # type: ignore[valid-type]
    refusal: bpy.props.StringProperty(name="Refusal")  # type: ignore[valid-type]
    error: bpy.props.StringProperty(name="Error")  # type: ignore[valid-type]


class PoseFactoryRuntime(bpy.types.PropertyGroup):
    """Transient state, never saved: filled on the main thread from the worker threads' messages."""

    jobs: bpy.props.CollectionProperty(type=PoseFactoryJob)  # type: ignore[valid-type]
    job_index: bpy.props.IntProperty(name="Active Job")  # type: ignore[valid-type]
    jobs_checked: bpy.props.BoolProperty(name="Jobs Checked")  # type: ignore[valid-type]
    tasks: bpy.props.CollectionProperty(type=PoseFactoryTask)  # type: ignore[valid-type]
    message: bpy.props.StringProperty(name="Message")  # type: ignore[valid-type]
    message_level: bpy.props.EnumProperty(name="Level", items=MESSAGE_LEVELS)  # type: ignore[valid-type]
    pod_checked: bpy.props.BoolProperty(name="Pod Checked")  # type: ignore[valid-type]
    pod_id: bpy.props.StringProperty(name="Pod")  # type: ignore[valid-type]
    pod_status: bpy.props.StringProperty(name="Status")  # type: ignore[valid-type]
    pod_gpu: bpy.props.StringProperty(name="GPU")  # type: ignore[valid-type]
    pod_cost_per_hour: bpy.props.FloatProperty(name="USD per Hour")  # type: ignore[valid-type]
    pod_error: bpy.props.StringProperty(name="Pod Error")  # type: ignore[valid-type]
    pod_agent: bpy.props.StringProperty(name="Agent", description="What the pod's agents do")  # type: ignore[valid-type]
    last_output_folder: bpy.props.StringProperty(name="Last Local Render", subtype="DIR_PATH")  # type: ignore[valid-type]
    label_check: bpy.props.PointerProperty(type=PoseFactoryLabelCheck)  # type: ignore[valid-type]
    estimate: bpy.props.PointerProperty(type=PoseFactoryEstimate)  # type: ignore[valid-type]
    scan_problem: bpy.props.StringProperty(name="Scan Problem")  # type: ignore[valid-type]
    connection_test: bpy.props.StringProperty(name="Connection Test", description="What the last test reached, one line each")  # type: ignore[valid-type]

    def task(self, name: str) -> PoseFactoryTask | None:
        return self.tasks.get(name)

    def is_running(self, name: str) -> bool:
        task = self.tasks.get(name)
        return bool(task and task.running)

    def active_job(self) -> PoseFactoryJob | None:
        return self.jobs[self.job_index] if 0 <= self.job_index < len(self.jobs) else None


classes = (
    PoseFactoryCharacter,
    PoseFactorySceneSettings,
    PoseFactoryJob,
    PoseFactoryTask,
    PoseFactoryLabelCheck,
    PoseFactoryEstimate,
    PoseFactoryRuntime,
)
_register_classes, _unregister_classes = bpy.utils.register_classes_factory(classes)


def register() -> None:
    _PROVIDER_ITEMS[:] = _load_provider_items()
    _register_classes()
    bpy.types.Scene.pose_factory = bpy.props.PointerProperty(type=PoseFactorySceneSettings)
    bpy.types.WindowManager.pose_factory = bpy.props.PointerProperty(type=PoseFactoryRuntime)


def unregister() -> None:
    del bpy.types.WindowManager.pose_factory
    del bpy.types.Scene.pose_factory
    _unregister_classes()
    _PROVIDER_ITEMS.clear()
