"""Motions on imported characters in Blender: read the rig, write the retargeted action, read BVH files.

The maths is :mod:`pose_factory_addon.core.retarget` (numpy); this module only extracts facts from
Blender (rest bones, skin vertices, a BVH armature's posed bones) and writes the result back as one
action per motion: every keyframe of a channel set in one ``foreach_set`` call, with the action slot
assigned explicitly (Blender 4.4+ slotted actions). Bones are matched by canonical Mixamo name, so any
``mixamorig:``-style prefix works; a rig without end bones (``HeadTop_End``, ``*Toe_End``) is fine.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import bpy
import numpy as np

from ..core.errors import MotionError, RenderError
from ..core.motion import MOTION_FPS, Motion, skeleton_motion
from ..core.retarget import ROOT_BONE, RetargetedClip, TargetRig, retarget
from ..core.skeletons import canonical_bone_name
from .importer import Character
from .rest_skin import rest_skin

MAX_SKIN_POINTS = 20000  # skin vertices kept for the ground clamp and arm clearance (every k-th vertex beyond this)
_LINEAR = 1  # index of LINEAR in Blender's keyframe interpolation enum (CONSTANT, LINEAR, BEZIER, ...)


def _parents_first(bones: list[bpy.types.Bone]) -> list[bpy.types.Bone]:
    ordered: list[bpy.types.Bone] = []
    placed: set[str] = set()
    while len(ordered) < len(bones):
        for bone in bones:
            if bone.name not in placed and (bone.parent is None or bone.parent.name in placed):
                ordered.append(bone)
                placed.add(bone.name)
    return ordered


def target_rig(character: Character) -> TargetRig:
    """The character's rest skeleton and skin as numpy data (world metres, after the importer's normalisation)."""
    armature = character.armature
    bpy.context.view_layer.update()
    matrix = np.array(armature.matrix_world)
    scale = float(np.cbrt(abs(np.linalg.det(matrix[:3, :3]))))
    rotation = matrix[:3, :3] / scale
    bones = _parents_first(list(armature.data.bones))
    names = tuple(canonical_bone_name(bone.name) for bone in bones)
    positions = {bone.name: index for index, bone in enumerate(bones)}
    parents = tuple(positions[bone.parent.name] if bone.parent else -1 for bone in bones)
    heads = np.array([matrix[:3, :3] @ np.array(bone.head_local) + matrix[:3, 3] for bone in bones])
    axes = []
    for bone in bones:
        local = np.array(bone.matrix_local)[:3, :3]
        local = local / np.linalg.norm(local, axis=0, keepdims=True)
        axes.append(rotation @ local)
    skin = rest_skin(character)
    points = np.concatenate([mesh.vertices for mesh in skin.meshes])
    owners = np.concatenate([mesh.vertex_bone for mesh in skin.meshes])
    keep = np.array([owner in names for owner in owners], dtype=bool)
    points, owners = points[keep], owners[keep]
    if len(points) > MAX_SKIN_POINTS:
        step = math.ceil(len(points) / MAX_SKIN_POINTS)
        points, owners = points[::step], owners[::step]
    index = {name: position for position, name in enumerate(names)}
    return TargetRig(
        names=names,
        parents=parents,
        heads=heads,
        axes=np.array(axes),
        unit_m=scale,
        skin_points=points,
        skin_bones=np.array([index[owner] for owner in owners], dtype=np.int64),
    )


def _reset_pose(armature: bpy.types.Object) -> None:
    for pose_bone in armature.pose.bones:
        pose_bone.location = (0.0, 0.0, 0.0)
        pose_bone.rotation_quaternion = (1.0, 0.0, 0.0, 0.0)
        pose_bone.rotation_euler = (0.0, 0.0, 0.0)
        pose_bone.rotation_axis_angle = (0.0, 0.0, 1.0, 0.0)
        pose_bone.scale = (1.0, 1.0, 1.0)


def _write_channel(
    channelbag: bpy.types.ActionChannelbag, group: bpy.types.ActionGroup, path: str, index: int, values: np.ndarray
) -> None:
    """One F-curve with a key on every frame 1..F, written in one call."""
    curve = channelbag.fcurves.new(path, index=index)
    curve.group = group
    count = len(values)
    curve.keyframe_points.add(count)
    points = np.column_stack([np.arange(1, count + 1, dtype=np.float64), values]).ravel()
    curve.keyframe_points.foreach_set("co", points)
    curve.keyframe_points.foreach_set("interpolation", np.full(count, _LINEAR, dtype=np.int32))
    curve.update()


def apply_clip(character: Character, clip: RetargetedClip, action_name: str | None = None) -> Character:
    """Make ``clip`` the armature's animation on frames 1..F; returns the character with that frame range.

    The previous action is replaced and every pose bone reset first, so bones the clip does not key
    stay at rest rather than where the old animation left them.
    """
    armature = character.armature
    by_canonical = {canonical_bone_name(bone.name): bone.name for bone in armature.pose.bones}
    action = bpy.data.actions.new(action_name or clip.name)
    slot = action.slots.new(id_type="OBJECT", name=armature.name)
    strip = action.layers.new("Motion").strips.new(type="KEYFRAME")
    channelbag = strip.channelbag(slot, ensure=True)
    _reset_pose(armature)
    for column, name in enumerate(clip.bones):
        bone_name = by_canonical[name]
        armature.pose.bones[bone_name].rotation_mode = "QUATERNION"
        group = channelbag.groups.new(bone_name)
        path = f'pose.bones["{bone_name}"]'
        for component in range(4):
            _write_channel(channelbag, group, f"{path}.rotation_quaternion", component, clip.quaternions[:, column, component])
        if name == ROOT_BONE:
            for component in range(3):
                _write_channel(channelbag, group, f"{path}.location", component, clip.root_location[:, component])
    animation = armature.animation_data or armature.animation_data_create()
    animation.action = action
    animation.action_slot = slot
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = 1, clip.frame_count
    scene.render.fps = round(clip.fps)
    scene.frame_set(1)
    return replace(character, first_frame=1, last_frame=clip.frame_count)


def retarget_onto(
    character: Character, motion: Motion, rig: TargetRig | None = None, *, root_motion: bool = False
) -> tuple[Character, RetargetedClip]:
    """Retarget ``motion`` onto ``character`` and apply it; ``rig`` from :func:`target_rig` (read once per character).

    Raises:
        RenderError: the rig cannot carry the motion (no ``Hips`` bone).
    """
    rig = rig or target_rig(character)
    try:
        clip = retarget(motion, rig, root_motion=root_motion)
    except ValueError as error:
        raise RenderError(f"{character.name}: cannot retarget {motion.name}: {error}") from None
    return apply_clip(character, clip), clip


def _bvh_frame_time(path: Path) -> float:
    """Seconds per frame from the BVH header (``Frame Time: 0.0083333``)."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.strip().lower().startswith("frame time:"):
                try:
                    value = float(line.split(":", 1)[1])
                except ValueError:
                    break
                if value > 0.0 and math.isfinite(value):
                    return value
                break
    raise MotionError(f"{path.name}: no valid 'Frame Time:' line (is it a BVH file?)")


def load_bvh_motion(path: Path, name: str, fps: float = MOTION_FPS) -> Motion:
    """Read a BVH file with Blender's bundled importer and sample it at ``fps`` into a :class:`Motion`.

    The skeleton is imported into the current scene and removed again (with its action); the
    scene's current frame is put back. Only the frames needed at ``fps`` are evaluated. Raises
    :class:`MotionError` for an unreadable file or an unusable skeleton.
    """
    if not path.is_file():
        raise MotionError(f"{path}: file not found")
    frame_time = _bvh_frame_time(path)
    scene = bpy.context.scene
    current = scene.frame_current
    objects_before = set(bpy.data.objects)
    actions_before = set(bpy.data.actions)
    try:
        try:
            bpy.ops.import_anim.bvh(
                filepath=str(path), global_scale=1.0, frame_start=1, use_fps_scale=False,
                update_scene_fps=False, update_scene_duration=False, rotate_mode="NATIVE",
            )  # fmt: skip
        except RuntimeError as error:
            raise MotionError(f"{path.name}: could not be read as BVH ({str(error).strip().splitlines()[0]})") from None
        imported = [obj for obj in bpy.data.objects if obj not in objects_before and obj.type == "ARMATURE"]
        if not imported:
            raise MotionError(f"{path.name}: the BVH file has no skeleton")
        return _sampled_motion(scene, imported[0], name, frame_time, fps, path.name)
    finally:
        for obj in [obj for obj in bpy.data.objects if obj not in objects_before]:
            data = obj.data
            bpy.data.objects.remove(obj)
            if isinstance(data, bpy.types.Armature) and data.users == 0:
                bpy.data.armatures.remove(data)
        for action in [action for action in bpy.data.actions if action not in actions_before]:
            bpy.data.actions.remove(action)
        scene.frame_set(current)


def _sampled_motion(
    scene: bpy.types.Scene, armature: bpy.types.Object, name: str, frame_time: float, fps: float, file_name: str
) -> Motion:
    action = armature.animation_data.action if armature.animation_data else None
    first, last = action.frame_range if action else (1.0, 1.0)
    duration = (last - first) * frame_time
    count = max(round(duration * fps), 0) + 1
    times = np.linspace(0.0, duration, count)
    sampled_fps = (count - 1) / duration if count > 1 else fps
    bones = _parents_first(list(armature.data.bones))
    names = [bone.name for bone in bones]
    positions = {bone.name: index for index, bone in enumerate(bones)}
    parents = [positions[bone.parent.name] if bone.parent else -1 for bone in bones]
    matrix = np.array(armature.matrix_world)
    rest_frames = np.array([matrix[:3, :3] @ np.array(bone.matrix_local)[:3, :3] for bone in bones])
    rest_frames /= np.linalg.norm(rest_frames, axis=1, keepdims=True)
    rest_heads = np.array([matrix[:3, :3] @ np.array(bone.head_local) + matrix[:3, 3] for bone in bones])
    heads = np.empty((count, len(bones), 3))
    turns = np.empty((count, len(bones), 3, 3))
    for index, seconds in enumerate(times):
        frame = first + seconds / frame_time
        scene.frame_set(math.floor(frame), subframe=float(frame - math.floor(frame)))
        evaluated = armature.evaluated_get(bpy.context.evaluated_depsgraph_get())
        for column, bone_name in enumerate(names):
            posed = matrix @ np.array(evaluated.pose.bones[bone_name].matrix)
            axes = posed[:3, :3] / np.linalg.norm(posed[:3, :3], axis=0, keepdims=True)
            heads[index, column] = posed[:3, 3]
            turns[index, column] = axes @ rest_frames[column].T
    return skeleton_motion(
        name, sampled_fps, names, parents, rest_heads, heads, turns, source=f"{file_name} (BVH)", output_fps=sampled_fps
    )
