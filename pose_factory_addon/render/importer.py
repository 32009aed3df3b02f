"""Import a rigged character (FBX, GLB, glTF) and normalise it: metres, feet on z = 0, at the origin, facing -Y.

Mixamo FBX imports as an armature with scale 0.01 and a 90 degree rotation about X over
centimetre bone data; glTF imports at scale 1. Both are handled the same way: the imported
objects are parented to one root empty whose transform (a power-of-ten scale, a rotation by
whole quarter turns, a translation) makes the rest pose stand upright on the ground at the
origin with the character's left side on +X, so its front faces -Y.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix

from ..core.character_files import character_file_problem
from ..core.errors import RenderError
from ..core.skeletons import canonical_bone_name, missing_mixamo_bones
from .meshes import evaluated_world_vertices

SUPPORTED_EXTENSIONS = (".fbx", ".glb", ".gltf")
_PLAUSIBLE_HEIGHT_M = (0.3, 4.0)
ROOT_NAME = "PoseFactoryRoot"


@dataclass
class Character:
    """An imported, normalised character: its armature, skinned meshes and animation range (frames)."""

    name: str
    armature: bpy.types.Object
    meshes: list[bpy.types.Object]
    first_frame: int
    last_frame: int


def _import_file(path: Path) -> None:
    suffix = path.suffix.lower()
    if suffix == ".fbx":
        bpy.ops.import_scene.fbx(filepath=str(path))
    elif suffix in (".glb", ".gltf"):
        bpy.ops.import_scene.gltf(filepath=str(path))
    else:
        raise RenderError(f"{path.name}: unsupported format {suffix or '(none)'} (use {', '.join(SUPPORTED_EXTENSIONS)})")


def _descends_from(obj: bpy.types.Object, ancestor: bpy.types.Object) -> bool:
    parent = obj.parent
    while parent is not None:
        if parent == ancestor:
            return True
        parent = parent.parent
    return False


def _skinned_meshes(armature: bpy.types.Object, objects: list[bpy.types.Object]) -> list[bpy.types.Object]:
    meshes = []
    for obj in objects:
        if obj.type != "MESH":
            continue
        deformed = any(mod.type == "ARMATURE" and mod.object == armature for mod in obj.modifiers)
        if deformed or _descends_from(obj, armature):
            meshes.append(obj)
    return meshes


def _pick_armature(path: Path, objects: list[bpy.types.Object]) -> bpy.types.Object:
    armatures = [obj for obj in objects if obj.type == "ARMATURE"]
    if not armatures:
        raise RenderError(f"{path.name}: no armature found (a rigged character with a Mixamo-like skeleton is needed)")
    armatures.sort(key=lambda obj: (len(missing_mixamo_bones([b.name for b in obj.data.bones])), -len(obj.data.bones)))
    best = armatures[0]
    missing = missing_mixamo_bones([bone.name for bone in best.data.bones])
    if missing:
        raise RenderError(
            f"{path.name}: the armature is not a Mixamo-like rig (missing bones: {', '.join(missing)}); "
            "rig it with Mixamo or rename its bones to Mixamo names"
        )
    return best


def _animation_range(armature: bpy.types.Object) -> tuple[int, int]:
    animation = armature.animation_data
    if animation is None or animation.action is None:
        return 1, 1
    first, last = animation.action.frame_range
    return math.floor(first), math.ceil(last)


def _rest_bone_head(armature: bpy.types.Object, canonical: str) -> np.ndarray:
    for bone in armature.data.bones:
        if canonical_bone_name(bone.name) == canonical:
            return np.array(armature.matrix_world @ bone.head_local)
    raise RenderError(f"bone {canonical} disappeared from {armature.name}")


def _quarter_turn_rotation(armature: bpy.types.Object) -> np.ndarray:
    """The axis-aligned rotation [3, 3] taking the rig's up to +Z and its left side to +X."""
    up = _rest_bone_head(armature, "Head") - _rest_bone_head(armature, "Hips")
    left = _rest_bone_head(armature, "LeftUpLeg") - _rest_bone_head(armature, "RightUpLeg")
    up_axis = np.zeros(3)
    up_axis[np.argmax(np.abs(up))] = np.sign(up[np.argmax(np.abs(up))])
    left = left - up_axis * float(left @ up_axis)
    left_axis = np.zeros(3)
    left_axis[np.argmax(np.abs(left))] = np.sign(left[np.argmax(np.abs(left))])
    back_axis = np.cross(up_axis, left_axis)
    current = np.column_stack([left_axis, back_axis, up_axis])
    return np.asarray(current.T)


def _power_of_ten_scale(height: float) -> float:
    scale = 1.0
    while height * scale > _PLAUSIBLE_HEIGHT_M[1]:
        scale /= 10.0
    while 0 < height * scale < _PLAUSIBLE_HEIGHT_M[0]:
        scale *= 10.0
    return scale


def _rest_vertices(character: Character) -> np.ndarray:
    pose_position = character.armature.data.pose_position
    character.armature.data.pose_position = "REST"
    bpy.context.view_layer.update()
    try:
        return evaluated_world_vertices(character.meshes, bpy.context.evaluated_depsgraph_get())
    finally:
        character.armature.data.pose_position = pose_position
        bpy.context.view_layer.update()


def _normalise(character: Character, top_level: list[bpy.types.Object]) -> None:
    root = bpy.data.objects.new(ROOT_NAME, None)
    bpy.context.scene.collection.objects.link(root)
    for obj in top_level:
        obj.parent = root
        obj.matrix_parent_inverse = Matrix.Identity(4)
    rotation = _quarter_turn_rotation(character.armature)
    root.matrix_world = Matrix(rotation.tolist()).to_4x4()
    bpy.context.view_layer.update()
    vertices = _rest_vertices(character)
    if len(vertices) == 0:
        raise RenderError(f"{character.name}: the character has no skinned mesh to render")
    scale = _power_of_ten_scale(float(np.ptp(vertices[:, 2])))
    hips = _rest_bone_head(character.armature, "Hips") * scale
    offset = np.array([-hips[0], -hips[1], -float(vertices[:, 2].min()) * scale])
    root.matrix_world = Matrix.Translation(offset) @ Matrix.Scale(scale, 4) @ root.matrix_world
    bpy.context.view_layer.update()


def import_character(path: Path, name: str) -> Character:
    """Import ``path`` into the current (empty) scene and normalise it.

    Raises:
        RenderError: unsupported format, unreadable file, content Blender cannot import (an ASCII
            FBX, a text file renamed; checked before the importer runs), no armature, or a rig that
            is not Mixamo-like (the message names the missing bones).
    """
    if not path.is_file():
        raise RenderError(f"{path}: file not found")
    problem = character_file_problem(path)
    if problem is not None:
        raise RenderError(f"{path.name}: {problem}")
    before = set(bpy.data.objects)
    try:
        _import_file(path)
    except RuntimeError as error:
        first_line = str(error).strip().splitlines()[-1] if str(error).strip() else "unknown error"
        raise RenderError(f"{path.name}: could not be imported ({first_line})") from None
    imported = [obj for obj in bpy.data.objects if obj not in before]
    armature = _pick_armature(path, imported)
    meshes = _skinned_meshes(armature, imported)
    if not meshes:
        raise RenderError(f"{path.name}: the armature deforms no mesh (nothing to render)")
    for obj in imported:
        if obj.type == "MESH" and obj not in meshes:
            obj.hide_render = True
    first, last = _animation_range(armature)
    character = Character(name, armature, meshes, first, last)
    _normalise(character, [obj for obj in imported if obj.parent is None and obj.name in bpy.context.scene.objects])
    scene = bpy.context.scene
    scene.frame_start, scene.frame_end = first, last
    return character
