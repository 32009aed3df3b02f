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


def scan_characters(settings: PoseFactorySceneSettings) -> str:
    """Refill the character checklist from ``settings.characters_folder``; returns a problem or ``""``.

    Ticks are kept for files that were already listed; new files start ticked.
    """
    from ..core.character_files import character_files

    previous = {item.name: item.enabled for item in settings.characters}
    settings.characters.clear()
    folder = bpy.path.abspath(settings.characters_folder) if settings.characters_folder else ""
    if not folder:
        return "No characters folder chosen"
    try:
        files = character_files([folder])
    except UsageError as error:
        return str(error)
    for name, path in files.items():
        item = settings.characters.add()
        item.name = name
        item.path = str(Path(path))
        item.enabled = previous.get(name, True)
    return ""


def _folder_changed(self: PoseFactorySceneSettings, _context: bpy.types.Context) -> None:
    scan_characters(self)


class PoseFactoryCharacter(bpy.types.PropertyGroup):
    """One character file found in the characters folder (``name`` is its safe slug)."""

    path: bpy.props.StringProperty(name="File", subtype="FILE_PATH")  # type: ignore[valid-type]
    enabled: bpy.props.BoolProperty(name="Render", description="Include this character", default=True)  # type: ignore[valid-type]


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
    )
    angles: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Angles",
        description="Orbit views per elevation, evenly spaced around the character",
        default=defaults.ANGLES,
        min=defaults.MIN_ANGLES,
        max=defaults.MAX_ANGLES,
    )
    elevations: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Elevations",
        description="Camera elevations in degrees, separated by commas (0 = level)",
        default=",".join(f"{value:g}" for value in defaults.ELEVATIONS_DEG),
    )
    frames: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Frames", description=FRAME_SPEC_HELP, default=defaults.FRAMES
    )
    preset: bpy.props.EnumProperty(name="Preset", items=PRESET_ITEMS, default=defaults.PRESET)  # type: ignore[valid-type]
    resolution: bpy.props.IntVectorProperty(  # type: ignore[valid-type]
        name="Resolution",
        description="Image width and height in pixels",
        size=2,
        default=defaults.RESOLUTION,
        min=defaults.MIN_RESOLUTION,
        max=defaults.MAX_RESOLUTION,
    )
    labels: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Labels",
        description="Keypoint sets to write",
        items=LABEL_ITEMS,
        options={"ENUM_FLAG"},
        default=set(defaults.LABEL_SETS),
    )
    output_name: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Output Name", description="Name of the dataset (letters, digits, _ and -)", default="dataset"
    )
    motions: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Motions",
        description="Library motions retargeted onto every character instead of its own animation "
        "(none ticked: each character's own animation)",
        items=MOTION_ITEMS,
        options={"ENUM_FLAG"},
        default=set(),
    )
    mirror_motions: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Mirror Motions", description="Also render every motion mirrored (left and right swapped)", default=False
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
        name="Provider", description="Whose prices the cost estimate uses", items=_provider_items
    )
    download_folder: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Download Folder",
        description="Results are downloaded into <folder>/<job id>; empty uses the folder next to the .blend file or "
        "your user data directory",
        subtype="DIR_PATH",
    )
    local_output_folder: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Output Folder", description="Where 'Render Here' writes its dataset", subtype="DIR_PATH"
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
    last_output_folder: bpy.props.StringProperty(name="Last Local Render", subtype="DIR_PATH")  # type: ignore[valid-type]
    label_check: bpy.props.PointerProperty(type=PoseFactoryLabelCheck)  # type: ignore[valid-type]

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
