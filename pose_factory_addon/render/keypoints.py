"""Where the 33 MediaPipe landmarks are on a posed character, and which are hidden from a camera.

Joints come from posed bone heads of the Mixamo rig. Landmarks without a bone (nose, eyes,
ears, mouth corners, heels, and finger points on rigs without finger bones) are skin
vertices chosen ONCE on the rest mesh relative to the Head / Foot / Hand bones, then read
from the deformed mesh every frame so they move with the skin. The rules assume the
normalised rest pose (upright, facing -Y, left side on +X) made by :mod:`.importer`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import bpy
import numpy as np
from mathutils import Vector

from ..core import defaults
from ..core.errors import RenderError
from ..core.labels import joint_occlusion_tolerance
from ..core.skeletons import MEDIAPIPE33_NAMES, MIXAMO_LANDMARK_SOURCES, canonical_bone_name
from .importer import Character
from .meshes import mesh_world_vertices

PointKind = Literal["bone_head", "bone_tail", "surface"]
_MIN_REGION_VERTICES = 3


@dataclass(frozen=True)
class LandmarkPoint:
    """How to read one landmark each frame: a pose bone's head or tail, or a vertex of a mesh.

    ``tolerance`` (metres) is how far in front of the landmark a ray hit still counts as the
    landmark's own skin (see :func:`core.labels.occluded_from_hits`).
    """

    kind: PointKind
    bone: str = ""
    mesh_index: int = -1
    vertex: int = -1
    tolerance: float = defaults.SURFACE_OCCLUSION_TOLERANCE_M


@dataclass
class _RestMesh:
    """The rest pose in world metres: vertices per mesh, dominant bone per vertex, bone heads/tails."""

    vertices: list[np.ndarray]
    dominant_bone: list[np.ndarray]
    bone_heads: dict[str, np.ndarray]
    bone_tails: dict[str, np.ndarray]


def _dominant_bones(obj: bpy.types.Object) -> np.ndarray:
    names = np.array([canonical_bone_name(group.name) for group in obj.vertex_groups] + [""], dtype=object)
    dominant = np.full(len(obj.data.vertices), len(names) - 1)
    for vertex in obj.data.vertices:
        best = 0.0
        for element in vertex.groups:
            if element.weight > best:
                best = element.weight
                dominant[vertex.index] = element.group
    return np.asarray(names[dominant], dtype=object)


def _rest_mesh(character: Character) -> _RestMesh:
    data = character.armature.data
    pose_position = data.pose_position
    data.pose_position = "REST"
    bpy.context.view_layer.update()
    try:
        depsgraph = bpy.context.evaluated_depsgraph_get()
        vertices = [mesh_world_vertices(obj, depsgraph) for obj in character.meshes]
    finally:
        data.pose_position = pose_position
        bpy.context.view_layer.update()
    matrix = character.armature.matrix_world
    heads = {canonical_bone_name(bone.name): np.array(matrix @ bone.head_local) for bone in data.bones}
    tails = {canonical_bone_name(bone.name): np.array(matrix @ bone.tail_local) for bone in data.bones}
    return _RestMesh(vertices, [_dominant_bones(obj) for obj in character.meshes], heads, tails)


class _Region:
    """Candidate vertices for a rule: positions [M, 3] with their (mesh, vertex) addresses."""

    def __init__(self, rest: _RestMesh, mask_per_mesh: list[np.ndarray]) -> None:
        self.points = np.concatenate([v[m] for v, m in zip(rest.vertices, mask_per_mesh, strict=True)])
        self.addresses = np.concatenate(
            [np.column_stack([np.full(int(m.sum()), i), np.nonzero(m)[0]]) for i, m in enumerate(mask_per_mesh)]
        )

    def __len__(self) -> int:
        return len(self.points)

    def pick(self, index: int) -> LandmarkPoint:
        mesh_index, vertex = self.addresses[index]
        return LandmarkPoint("surface", mesh_index=int(mesh_index), vertex=int(vertex))

    def subset(self, mask: np.ndarray) -> _Region:
        region = object.__new__(_Region)
        region.points = self.points[mask]
        region.addresses = self.addresses[mask]
        return region


def _bone_region(rest: _RestMesh, bones: set[str], near: np.ndarray, radius: float) -> _Region:
    """Vertices weighted mostly to ``bones``; vertices within ``radius`` of ``near`` when the mesh has no such weights."""
    masks = [np.isin(dominant, list(bones)) for dominant in rest.dominant_bone]
    if sum(int(m.sum()) for m in masks) >= _MIN_REGION_VERTICES:
        return _Region(rest, masks)
    return _Region(rest, [np.linalg.norm(v - near, axis=1) < radius for v in rest.vertices])


def _front_most_near(region: _Region, x: float, z: float, size: float) -> int:
    """The most forward (-Y) vertex of the column around ``(x, z)``, widening the column until it holds vertices."""
    window = size * 0.1
    for _ in range(8):
        mask = (np.abs(region.points[:, 0] - x) < window) & (np.abs(region.points[:, 2] - z) < window)
        if mask.any():
            candidates = np.nonzero(mask)[0]
            return int(candidates[np.argmin(region.points[candidates, 1])])
        window *= 1.6
    return int(np.argmin(np.linalg.norm(region.points[:, [0, 2]] - [x, z], axis=1)))


def _head_rules(rest: _RestMesh) -> dict[str, LandmarkPoint]:
    head = rest.bone_heads["Head"]
    top_guess = rest.bone_heads.get("HeadTop_End", head + np.array([0.0, 0.0, 0.25]))
    head_bones = {"Head", "HeadTop_End", "LeftEye", "RightEye"}
    region = _bone_region(rest, head_bones, (head + top_guess) / 2, float(np.linalg.norm(top_guess - head)))
    if len(region) < _MIN_REGION_VERTICES:
        raise RenderError("no skin vertices around the Head bone (is the head mesh skinned to the rig?)")
    region = region.subset(region.points[:, 2] >= head[2] - 0.02)
    top = float(rest.bone_heads["HeadTop_End"][2]) if "HeadTop_End" in rest.bone_heads else float(region.points[:, 2].max())
    height = max(top - float(head[2]), 1e-3)
    centre_x = float(head[0])
    band = (region.points[:, 2] > head[2] + 0.25 * height) & (region.points[:, 2] < head[2] + 0.65 * height)
    half_width = float(np.abs(region.points[band, 0] - centre_x).max()) if band.any() else height / 2
    points: dict[str, LandmarkPoint] = {}
    face = np.nonzero(band & (np.abs(region.points[:, 0] - centre_x) < 0.3 * half_width))[0]
    nose = (
        face[np.argmin(region.points[face, 1])]
        if len(face)
        else _front_most_near(region, centre_x, head[2] + 0.4 * height, height)
    )
    points["nose"] = region.pick(int(nose))
    eye_z = float(head[2]) + 0.55 * height
    mouth_z = float(head[2]) + 0.2 * height
    for side, sign in (("left", 1.0), ("right", -1.0)):
        for rule, fraction in ((f"eye_inner_{side}", 0.18), (f"eye_{side}", 0.35), (f"eye_outer_{side}", 0.55)):
            points[rule] = region.pick(_front_most_near(region, centre_x + sign * fraction * half_width, eye_z, height))
        points[f"mouth_{side}"] = region.pick(_front_most_near(region, centre_x + sign * 0.25 * half_width, mouth_z, height))
        side_band = np.nonzero(band)[0] if band.any() else np.arange(len(region))
        points[f"ear_{side}"] = region.pick(int(side_band[np.argmax(sign * region.points[side_band, 0])]))
    return points


def _heel(rest: _RestMesh, side: str) -> LandmarkPoint:
    prefix = side.capitalize()
    ankle = rest.bone_heads[f"{prefix}Foot"]
    region = _bone_region(rest, {f"{prefix}Foot", f"{prefix}ToeBase", f"{prefix}Toe_End"}, ankle, 0.15)
    region = region.subset(region.points[:, 2] <= ankle[2])
    if len(region) == 0:
        raise RenderError(f"no skin vertices below the {prefix}Foot bone to place the heel")
    return region.pick(int(np.argmax(region.points[:, 1] - 0.5 * region.points[:, 2])))


def _hand_point(rest: _RestMesh, side: str, rule: str) -> LandmarkPoint:
    prefix = side.capitalize()
    wrist = rest.bone_heads[f"{prefix}Hand"]
    hand_bones = {name for name in rest.bone_heads if name.startswith(f"{prefix}Hand")}
    region = _bone_region(rest, hand_bones, wrist, 0.12)
    if len(region) == 0:
        raise RenderError(f"no skin vertices on the {prefix}Hand bone to place the {rule} landmark")
    offsets = region.points - wrist
    direction = offsets.mean(axis=0)
    direction /= max(float(np.linalg.norm(direction)), 1e-9)
    front = np.array([0.0, -1.0, 0.0]) - direction * -direction[1]
    front /= max(float(np.linalg.norm(front)), 1e-9)
    length = float((offsets @ direction).max())
    width = float(np.abs(offsets @ front).max())
    along, across = {"hand_index": (0.75, 0.4), "hand_pinky": (0.75, -0.4), "hand_thumb": (0.4, 0.8)}[rule]
    target = wrist + along * length * direction + across * width * front
    return region.pick(int(np.argmin(np.linalg.norm(region.points - target, axis=1))))


def _resolve(rest: _RestMesh, head_points: dict[str, LandmarkPoint], landmark: str) -> LandmarkPoint:
    source = MIXAMO_LANDMARK_SOURCES[landmark]
    side = "left" if landmark.startswith("left") or landmark.endswith("left") else "right"
    if source.kind == "surface":
        return head_points[source.rule] if source.bone == "Head" else _heel(rest, side)
    for option in (source.bone, *source.fallbacks):
        kind, _, bone = option.rpartition(":")
        if kind == "surface":
            return _hand_point(rest, side, source.rule)
        if bone in rest.bone_heads:
            return LandmarkPoint("bone_tail" if kind == "tail" else "bone_head", bone=bone)
    raise RenderError(f"the rig has no bone for {landmark} (tried {', '.join((source.bone, *source.fallbacks))})")


def _with_tolerance(point: LandmarkPoint, rest: _RestMesh) -> LandmarkPoint:
    if point.kind == "surface":
        return point
    position = (rest.bone_heads if point.kind == "bone_head" else rest.bone_tails)[point.bone]
    skin_depth = min(float(np.linalg.norm(v - position, axis=1).min()) for v in rest.vertices if len(v))
    tolerance = float(joint_occlusion_tolerance(skin_depth))
    return LandmarkPoint(point.kind, point.bone, point.mesh_index, point.vertex, tolerance)


class LandmarkReader:
    """The MediaPipe-33 landmarks of one character, planned once on the rest mesh."""

    def __init__(self, character: Character) -> None:
        self.character = character
        rest = _rest_mesh(character)
        head_points = _head_rules(rest)
        self._bone_names = {canonical_bone_name(bone.name): bone.name for bone in character.armature.data.bones}
        self.points = [_with_tolerance(_resolve(rest, head_points, name), rest) for name in MEDIAPIPE33_NAMES]
        self.tolerances = np.array([point.tolerance for point in self.points])

    def world_positions(self, depsgraph: bpy.types.Depsgraph, mesh_vertices: list[np.ndarray]) -> np.ndarray:
        """Landmarks [33, 3] in world metres for the evaluated frame; ``mesh_vertices`` are this frame's
        world vertices per character mesh (from :func:`.meshes.mesh_world_vertices`)."""
        armature = self.character.armature.evaluated_get(depsgraph)
        matrix = armature.matrix_world
        positions = np.empty((len(self.points), 3))
        for index, point in enumerate(self.points):
            if point.kind == "surface":
                positions[index] = mesh_vertices[point.mesh_index][point.vertex]
            else:
                pose_bone = armature.pose.bones[self._bone_names[point.bone]]
                local = pose_bone.head if point.kind == "bone_head" else pose_bone.tail
                positions[index] = np.array(matrix @ local)
        return positions


def ray_hit_distances(
    scene: bpy.types.Scene, depsgraph: bpy.types.Depsgraph, camera_location: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distance [N] from the camera to the first mesh surface toward each target (``inf`` for no hit),
    and the distance [N] to the target itself; ray cast against the evaluated scene."""
    origin = Vector(camera_location.tolist())
    hits = np.full(len(targets), np.inf)
    distances = np.linalg.norm(targets - camera_location, axis=1)
    for index, target in enumerate(targets):
        if distances[index] <= 1e-9:
            continue
        direction = Vector(((target - camera_location) / distances[index]).tolist())
        found, location, _normal, _face, _obj, _matrix = scene.ray_cast(
            depsgraph, origin, direction, distance=float(distances[index]) + 1.0
        )
        if found:
            hits[index] = (location - origin).length
    return hits, distances
