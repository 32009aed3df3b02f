"""Auto framing from the evaluated (deformed) meshes and the posed root bone of every rendered frame.

Blender only extracts positions here (no rendering): each frame's world vertices and the
world position of the posed Hips bone head. :func:`core.framing.track_body` turns them into
a box in the character's moving frame, a distance per view and an aim point per frame, so a
root-motion clip is followed across the floor instead of shrinking to fit its whole path.
"""

from __future__ import annotations

import bpy
import numpy as np

from ..core import defaults
from ..core.camera import OrbitView
from ..core.framing import ROOT_BONE, CameraTrack, track_body
from ..core.skeletons import canonical_bone_name
from .importer import Character
from .meshes import evaluated_world_vertices


def _root_bone_name(character: Character) -> str:
    for bone in character.armature.data.bones:
        if canonical_bone_name(bone.name) == ROOT_BONE:
            return str(bone.name)
    raise ValueError(f"the rig has no {ROOT_BONE} bone to follow")


def _posed_root(character: Character, bone_name: str, depsgraph: bpy.types.Depsgraph) -> np.ndarray:
    """World position [3] (metres) of the posed root bone's head in the evaluated frame."""
    armature = character.armature.evaluated_get(depsgraph)
    return np.array(armature.matrix_world @ armature.pose.bones[bone_name].head)


def frame_character(
    character: Character,
    frames: list[int],
    views: list[OrbitView],
    fov_x: float,
    fov_y: float,
    padding: float = defaults.PADDING_FACTOR,
) -> CameraTrack:
    """Aim point per frame and distance per view so the whole body is inside the image in every view and frame."""
    root_bone = _root_bone_name(character)

    def posed_frame(index: int) -> tuple[np.ndarray, np.ndarray]:
        bpy.context.scene.frame_set(frames[index])
        depsgraph = bpy.context.evaluated_depsgraph_get()
        return evaluated_world_vertices(character.meshes, depsgraph), _posed_root(character, root_bone, depsgraph)

    return track_body(posed_frame, len(frames), views, fov_x, fov_y, padding)
