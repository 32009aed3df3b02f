"""Procedural sample characters: Mixamo-named mannequins with known poses, for the demo and tests.

We cannot ship Mixamo files, so this module builds look-alikes: an armature with Mixamo's 65
``mixamorig:*`` bones and rest conventions (T-pose, palms down, facing -Y, standing on z = 0,
"Left" = the character's own left = +X), two skinned meshes like X Bot (``Mannequin_Body``,
``Mannequin_Joints``), and procedural motions. The geometry and motions are defined in numpy
in :mod:`pose_factory_addon.core.sample_rig` and :mod:`pose_factory_addon.core.sample_mesh`;
this module only turns them into Blender data and files.

Public API
----------
``build_sample_character(shape, motion_name, *, scene=None, mixamo_layout=False, root_travel_m=0.0, ...) -> armature``
    Build the character in ``scene`` (default: the context scene), with the motion as the
    armature's active action and the scene frame range set to it (frames start at 1, 30 fps).
    ``mixamo_layout=True`` gives the armature object the transform Blender gives an imported
    Mixamo FBX (scale 0.01, 90 degrees about X, bones and vertices in centimetres, Y up);
    the world-space result is identical either way. ``root_travel_m`` > 0 makes a
    root-motion clip: the Hips travel that far along -Y (forward) over the clip, as a Mixamo
    clip downloaded without "In Place" does; the armature object stays put.
``export_sample_character(path, shape, motion_name, root_travel_m=0.0, *, rest_pose="tpose", ...) -> Path``
    Write ``.fbx`` (as Mixamo ships it: centimetres, Y up, ``mixamorig:*`` bones, take
    ``mixamo.com``; Blender re-imports it with the armature at scale 0.01 rotated 90 degrees
    about X and the clip on frames 1..N at 30 fps) or ``.glb`` (glTF binary with the
    animation, keyed at 24 fps so it imports on frames 1..N of a default Blender scene).
    Builds in a temporary scene, so the current scene is left alone. ``rest_pose="apose"`` rigs
    the same mannequin in an A-pose (arms 45 degrees down at rest); its motions show the same poses.
``write_sample_set(out_dir) -> list[Path]``
    Write :data:`SAMPLE_SET`, the files committed in ``samples/characters/``.
``known_joint_positions(shape, motion, frame) -> {bone: [3]}``
    Ground truth from the generator's own definition: world metres of the posed heads of the
    landmark bones (``LeftArm``, ``LeftHand``, ``LeftHandIndex1``, ``LeftToe_End``, ...) plus
    ``Head`` and ``HeadTop_End``, keyed without the ``mixamorig:`` prefix.
``known_landmark_positions(shape, motion, frame) -> {mediapipe name: [3]}``
    The same for MediaPipe-33 names, including skin points for nose, eyes, ears and heels.
    Both describe the in-place clip; add :func:`root_travel_offset` for a root-motion one.
``root_travel_offset(motion_name, frame, root_travel_m) -> [3]``
    World offset (metres) of the whole body at clip frame ``frame`` of a root-motion clip.

Shapes: ``slim`` (1.82 m), ``average`` (1.75 m), ``heavy`` (1.68 m). Motions (see
:data:`pose_factory_addon.core.sample_rig.MOTIONS` for which frame holds which pose):
``tpose`` and ``still`` (1 frame), ``walk`` (32 frames, in place), ``squat`` (40),
``wave`` (32; the character's RIGHT hand waves beside the head, forearm up, in every frame) and
``jumping_jack`` (24). Clips loop: frame ``frame_count + 1`` equals frame 1.
Bone rolls: every bone's local Z axis points as close to world -Y (the character's front)
as the bone direction allows; feet and toes, which point forward, have local Z up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import bpy
import numpy as np
from mathutils import Matrix, Quaternion

from ..core.sample_mesh import (
    BODY_MESH,
    CLOTHES_MESH,
    JOINTS_MESH,
    ROBOT_JOINTS_MESH,
    ROBOT_SHELL_MESH,
    known_landmark_positions,
    mannequin_meshes,
)
from ..core.sample_rig import MIXAMO_PREFIX, frame_pose, known_joint_positions, motion, skeleton
from .export import export_fbx, export_glb

__all__ = [
    "SAMPLE_SET",
    "SampleFile",
    "build_sample_character",
    "export_sample_character",
    "known_joint_positions",
    "known_landmark_positions",
    "root_travel_offset",
    "write_sample_set",
]


@dataclass(frozen=True)
class SampleFile:
    """One sample file: its name, body shape, motion, build (variant), whether it has eye bones, and its rest pose."""

    file_name: str
    shape: str
    motion: str
    variant: str = "mannequin"
    eye_bones: bool = False
    rest_pose: str = "tpose"


# The committed sample files: mannequins, an X Bot-like robot (outer shell over inner joint spheres) and a
# clothed mannequin, so the demo shows the structures real rigs have.
SAMPLE_SET: Final = (
    SampleFile("Mannequin_Average_Walk.fbx", "average", "walk"),
    SampleFile("Mannequin_Heavy_Squat.fbx", "heavy", "squat"),
    SampleFile("Mannequin_Slim_Wave.glb", "slim", "wave", eye_bones=True),
    SampleFile("Mannequin_Average_JumpingJack.glb", "average", "jumping_jack"),
    SampleFile("Robot_Average_Walk.fbx", "average", "walk", variant="robot"),
    SampleFile("Mannequin_Clothed_Walk.glb", "slim", "walk", variant="clothed"),
)

FRAMES_PER_SECOND: Final = 30  # Mixamo's rate, used for FBX
GLTF_FRAMES_PER_SECOND: Final = 24  # Blender's default rate, so glTF keys import on whole frames
MIXAMO_TAKE_NAME: Final = "mixamo.com"
_MIXAMO_OBJECT_MATRIX: Final = Matrix.Diagonal((0.01, 0.01, 0.01, 1.0)) @ Matrix.Rotation(np.pi / 2.0, 4, "X")
_MATERIAL_COLOURS: Final = {
    BODY_MESH: (0.78, 0.76, 0.72, 1.0),
    JOINTS_MESH: (0.32, 0.33, 0.36, 1.0),
    CLOTHES_MESH: (0.2, 0.34, 0.55, 1.0),
    ROBOT_SHELL_MESH: (0.55, 0.6, 0.66, 1.0),
    ROBOT_JOINTS_MESH: (0.12, 0.12, 0.14, 1.0),
}


def _bone_roll_reference(direction: np.ndarray) -> np.ndarray:
    """World axis a bone's local Z should face: the front (-Y), or up for bones along Y."""
    front = np.array([0.0, -1.0, 0.0])
    if abs(float(np.dot(direction, front))) > 0.9 * float(np.linalg.norm(direction)):
        return np.array([0.0, 0.0, 1.0])
    return front


def _create_armature(
    scene: bpy.types.Scene, shape: str, object_matrix: Matrix, eye_bones: bool, rest_pose: str
) -> bpy.types.Object:
    data = bpy.data.armatures.new("Armature")
    armature = bpy.data.objects.new("Armature", data)
    scene.collection.objects.link(armature)
    view_layer = scene.view_layers[0]
    armature.matrix_world = object_matrix
    to_armature = np.array(object_matrix.inverted())
    view_layer.objects.active = armature
    with bpy.context.temp_override(scene=scene, view_layer=view_layer, active_object=armature, object=armature):
        bpy.ops.object.mode_set(mode="EDIT")
        edit_bones = data.edit_bones
        for name, bone in skeleton(shape, eye_bones, rest_pose).items():
            edit_bone = edit_bones.new(MIXAMO_PREFIX + name)
            head, tail = np.array(bone.head), np.array(bone.tail)
            edit_bone.head = (to_armature @ np.append(head, 1.0))[:3]
            edit_bone.tail = (to_armature @ np.append(tail, 1.0))[:3]
            edit_bone.align_roll(to_armature[:3, :3] @ _bone_roll_reference(tail - head))
            if bone.parent:
                edit_bone.parent = edit_bones[MIXAMO_PREFIX + bone.parent]
        bpy.ops.object.mode_set(mode="OBJECT")
    return armature


def _material(name: str) -> bpy.types.Material:
    material = bpy.data.materials.new(name)
    colour = _MATERIAL_COLOURS[name]
    material.diffuse_color = colour
    material.use_nodes = True
    principled = material.node_tree.nodes.get("Principled BSDF")
    if principled is not None:
        principled.inputs["Base Color"].default_value = colour
        principled.inputs["Roughness"].default_value = 0.6
    return material


def _create_meshes(
    collection: bpy.types.Collection, armature: bpy.types.Object, shape: str, variant: str, eye_bones: bool, rest_pose: str
) -> list[bpy.types.Object]:
    to_armature = np.array(armature.matrix_world.inverted())
    meshes = []
    for name, mesh_data in mannequin_meshes(shape, variant, eye_bones, rest_pose).items():
        vertices = mesh_data.vertices @ to_armature[:3, :3].T + to_armature[:3, 3]
        mesh = bpy.data.meshes.new(name)
        mesh.from_pydata(vertices.tolist(), [], mesh_data.faces)
        mesh.polygons.foreach_set("use_smooth", [True] * len(mesh.polygons))
        mesh.materials.append(_material(name))
        mesh.update()
        mesh_object = bpy.data.objects.new(name, mesh)
        collection.objects.link(mesh_object)
        mesh_object.parent = armature
        for bone, (indices, weights) in mesh_data.weights.items():
            group = mesh_object.vertex_groups.new(name=MIXAMO_PREFIX + bone)
            for weight in np.unique(weights):
                group.add(indices[weights == weight].tolist(), float(weight), "REPLACE")
        modifier = mesh_object.modifiers.new("Armature", "ARMATURE")
        modifier.object = armature
        meshes.append(mesh_object)
    return meshes


def root_travel_offset(motion_name: str, frame: int, root_travel_m: float) -> np.ndarray:
    """World offset [3] (metres) of the body at clip frame ``frame`` (1-based) of a root-motion clip:
    a steady walk along -Y that starts at the origin on frame 1 and reaches ``root_travel_m`` on the last frame."""
    frame_count = motion(motion_name).frame_count
    progress = (frame - 1) / (frame_count - 1) if frame_count > 1 else 0.0
    return np.array([0.0, -root_travel_m * progress, 0.0])


def _animate(
    armature: bpy.types.Object,
    shape: str,
    motion_name: str,
    action_name: str,
    first_frame: int,
    root_travel_m: float,
    frame_count: int,
    rest_pose: str,
) -> bpy.types.Action:
    """Key every moving bone at every frame: pose-bone rotations are the generator's rest-axes
    rotations conjugated into each bone's rest frame (armature space); the Hips location carries
    the clip's own offset plus the root travel. Clip frame 1 is keyed at scene frame ``first_frame``."""
    to_armature = np.array(armature.matrix_world.inverted())[:3, :3]
    axes = to_armature / np.linalg.norm(to_armature[:, 0])
    poses = [frame_pose(shape, motion_name, frame, rest_pose) for frame in range(1, frame_count + 1)]
    moving = sorted({name for pose in poses for name in pose.rotations} | {"Hips"})
    armature.animation_data_create()
    action = bpy.data.actions.new(action_name)
    armature.animation_data.action = action
    previous: dict[str, Quaternion] = {}
    for clip_frame, pose in enumerate(poses, start=1):
        frame = first_frame + clip_frame - 1
        for name in moving:
            pose_bone = armature.pose.bones[MIXAMO_PREFIX + name]
            rest = np.array(pose_bone.bone.matrix_local.to_3x3())
            rotation = axes @ pose.rotations.get(name, np.eye(3)) @ axes.T
            quaternion = Matrix((rest.T @ rotation @ rest).tolist()).to_quaternion()
            if name in previous and previous[name].dot(quaternion) < 0.0:
                quaternion.negate()
            previous[name] = quaternion
            pose_bone.rotation_mode = "QUATERNION"
            pose_bone.rotation_quaternion = quaternion
            pose_bone.keyframe_insert("rotation_quaternion", frame=frame, group=pose_bone.name)
        hips = armature.pose.bones[MIXAMO_PREFIX + "Hips"]
        hips_rest = np.array(hips.bone.matrix_local.to_3x3())
        hips_offset = pose.hips_offset + root_travel_offset(motion_name, clip_frame, root_travel_m)
        hips.location = hips_rest.T @ (to_armature @ hips_offset)
        hips.keyframe_insert("location", frame=frame, group=hips.name)
    return action


def build_sample_character(
    shape: str = "average",
    motion_name: str = "walk",
    *,
    scene: bpy.types.Scene | None = None,
    mixamo_layout: bool = False,
    action_name: str | None = None,
    first_frame: int = 1,
    frames_per_second: int = FRAMES_PER_SECOND,
    root_travel_m: float = 0.0,
    variant: str = "mannequin",
    eye_bones: bool = False,
    closed_loop: bool = False,
    rest_pose: str = "tpose",
) -> bpy.types.Object:
    """Build a sample mannequin with its motion in ``scene``; returns the armature object.

    The action is named ``action_name`` (default: the motion's name); clip frame 1 is keyed at
    scene frame ``first_frame`` and the scene's frame range and rate are set to the clip.
    ``root_travel_m`` (metres) moves the Hips forward (-Y) over the clip (a root-motion clip).
    ``variant`` chooses the meshes (:data:`pose_factory_addon.core.sample_mesh.VARIANTS`),
    ``eye_bones`` adds ``LeftEye``/``RightEye``, and ``closed_loop`` keys one frame more whose pose
    repeats the first (as many exported cycles do). ``rest_pose`` is ``tpose`` or ``apose``
    (:data:`pose_factory_addon.core.sample_rig.REST_POSES`). Raises ``ValueError`` for an unknown
    shape, motion, variant or rest pose.
    """
    clip = motion(motion_name)
    skeleton(shape, rest_pose=rest_pose)
    mannequin_meshes(shape, variant)
    frame_count = clip.frame_count + (1 if closed_loop and clip.frame_count > 1 else 0)
    scene = scene or bpy.context.scene
    object_matrix = _MIXAMO_OBJECT_MATRIX if mixamo_layout else Matrix.Identity(4)
    armature = _create_armature(scene, shape, object_matrix, eye_bones, rest_pose)
    _create_meshes(scene.collection, armature, shape, variant, eye_bones, rest_pose)
    _animate(armature, shape, motion_name, action_name or motion_name, first_frame, root_travel_m, frame_count, rest_pose)
    scene.render.fps = frames_per_second
    scene.frame_start = first_frame
    scene.frame_end = first_frame + frame_count - 1
    scene.frame_set(first_frame)
    return armature


def _remove_scene(scene: bpy.types.Scene) -> None:
    """Delete a temporary scene and every datablock its objects used."""
    objects = list(scene.collection.all_objects)
    data = [obj.data for obj in objects]
    actions = [obj.animation_data.action for obj in objects if obj.animation_data and obj.animation_data.action]
    materials = [slot.material for obj in objects for slot in obj.material_slots if slot.material]
    for obj in objects:
        bpy.data.objects.remove(obj)
    for block in data:
        if isinstance(block, bpy.types.Mesh):
            bpy.data.meshes.remove(block)
        elif isinstance(block, bpy.types.Armature):
            bpy.data.armatures.remove(block)
    for action in actions:
        bpy.data.actions.remove(action)
    for material in set(materials):
        bpy.data.materials.remove(material)
    bpy.data.scenes.remove(scene)


def export_sample_character(
    path: str | Path,
    shape: str,
    motion_name: str,
    root_travel_m: float = 0.0,
    *,
    variant: str = "mannequin",
    eye_bones: bool = False,
    closed_loop: bool = False,
    rest_pose: str = "tpose",
) -> Path:
    """Write a sample character to ``path`` (``.fbx`` or ``.glb``); returns the path.

    ``root_travel_m``, ``variant``, ``eye_bones``, ``closed_loop`` and ``rest_pose`` are those of
    :func:`build_sample_character`.

    Raises ``ValueError`` for an unknown shape, motion, variant, rest pose or file extension.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".fbx", ".glb"):
        raise ValueError(f"sample characters are written as .fbx or .glb, not {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    is_fbx = suffix == ".fbx"
    # The FBX take is named after the scene; Blender's importer puts FBX time 0 at frame 1 and
    # glTF time t at frame t * fps, so FBX keys start at frame 0 and glTF keys at frame 1 / 24 s.
    scene = bpy.data.scenes.new(MIXAMO_TAKE_NAME if is_fbx else motion_name)
    try:
        view_layer = scene.view_layers[0]
        build_sample_character(
            shape,
            motion_name,
            scene=scene,
            mixamo_layout=is_fbx,
            action_name=MIXAMO_TAKE_NAME if is_fbx else motion_name,
            first_frame=0 if is_fbx else 1,
            frames_per_second=FRAMES_PER_SECOND if is_fbx else GLTF_FRAMES_PER_SECOND,
            root_travel_m=root_travel_m,
            variant=variant,
            eye_bones=eye_bones,
            closed_loop=closed_loop,
            rest_pose=rest_pose,
        )
        with bpy.context.temp_override(scene=scene, view_layer=view_layer):
            if is_fbx:
                export_fbx(path)
            else:
                export_glb(path)
    finally:
        _remove_scene(scene)
    return path


def write_sample_set(out_dir: str | Path) -> list[Path]:
    """Write every file of :data:`SAMPLE_SET` into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    return [
        export_sample_character(
            out_dir / sample.file_name,
            sample.shape,
            sample.motion,
            variant=sample.variant,
            eye_bones=sample.eye_bones,
            rest_pose=sample.rest_pose,
        )
        for sample in SAMPLE_SET
    ]
