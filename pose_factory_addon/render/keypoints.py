"""Where the 33 MediaPipe landmarks are on a posed character, and which of them a camera sees.

Joints come from posed bone heads of the Mixamo rig. Landmarks without a bone (nose, eyes,
ears, mouth corners, heels, and finger points on rigs without finger bones) are skin
vertices chosen ONCE on the rest mesh (face: :mod:`pose_factory_addon.core.face_landmarks`),
then read from the deformed mesh every frame so they move with the skin. Visibility is
decided by :mod:`pose_factory_addon.core.visibility` from one camera ray per landmark: the
first surface it meets, the bone that owns that surface, and (for joints) each joint's skin
depth measured once on the rest mesh. The rules assume the normalised rest pose (upright,
facing -Y, left side on +X) made by :mod:`.importer`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import bpy
import numpy as np
from mathutils import Vector
from mathutils.bvhtree import BVHTree

from ..core.errors import RenderError
from ..core.face_landmarks import FACE_LANDMARKS, FaceError, face_landmark_vertices
from ..core.generation import GENERATED_CHARACTER_PROPERTY, generated_landmarks
from ..core.skeletons import JOINT_OWNER_BONES, MEDIAPIPE33_NAMES, MIXAMO_LANDMARK_SOURCES, canonical_bone_name
from ..core.visibility import facing_away, occluded_keypoints, probe_directions, skin_depth_from_probes
from .importer import Character
from .randomize import SCENERY_PROPERTY
from .rest_skin import RestSkin, rest_skin

PointKind = Literal["bone_head", "surface"]
_MIN_REGION_VERTICES = 3
_MAX_PASS_THROUGH = 8  # surfaces hidden from the render a ray may pass before it gives up
_GENERATED_SNAP_M = 0.002  # a generated character's landmark must be this close to a vertex of the imported skin
_PASS_THROUGH_STEP_M = 1e-4


@dataclass(frozen=True)
class LandmarkPoint:
    """How to read one landmark each frame and how to decide whether a camera sees it.

    ``kind`` says where it is: a pose bone's head, or vertex ``vertex`` of mesh
    ``mesh_index``. Joints carry their ``owners`` (bones whose skin they are seen through) and
    ``skin_depth`` (metres).
    """

    kind: PointKind
    bone: str = ""
    mesh_index: int = -1
    vertex: int = -1
    owners: frozenset[str] = frozenset()
    skin_depth: float = math.nan


@dataclass
class PosedLandmarks:
    """One evaluated frame, world metres: landmark positions [33, 3], and the head's centre [3] and up axis [3].

    Whether a face point turns away from a camera is judged by its direction from the head's
    vertical axis (the head's outward normal there, around the axis the face turns about): a
    vertex normal is unreliable on real heads (eyeballs, lips and lashes are separate closed
    parts with normals of their own), and a direction from the centre itself points down at the
    mouth, which a low camera would then "see".
    """

    positions: np.ndarray
    head_centre: np.ndarray
    head_up: np.ndarray

    def face_directions(self, indices: list[int]) -> np.ndarray:
        """Outward directions [K, 3] of the landmarks ``indices`` around the head's vertical axis."""
        offsets = self.positions[indices] - self.head_centre
        return offsets - np.outer(offsets @ self.head_up, self.head_up)


class _Region:
    """Candidate vertices for a rule: positions and normals [M, 3] with their (mesh, vertex) addresses."""

    def __init__(self, skin: RestSkin, masks: list[np.ndarray]) -> None:
        self.points = np.concatenate([mesh.vertices[m] for mesh, m in zip(skin.meshes, masks, strict=True)])
        self.normals = np.concatenate([mesh.normals[m] for mesh, m in zip(skin.meshes, masks, strict=True)])
        self.addresses = np.concatenate(
            [np.column_stack([np.full(int(m.sum()), i), np.nonzero(m)[0]]) for i, m in enumerate(masks)]
        ).reshape(-1, 2)

    def __len__(self) -> int:
        return len(self.points)

    def pick(self, index: int) -> LandmarkPoint:
        mesh_index, vertex = self.addresses[index]
        return LandmarkPoint("surface", mesh_index=int(mesh_index), vertex=int(vertex))

    def subset(self, mask: np.ndarray) -> _Region:
        region = object.__new__(_Region)
        region.points, region.normals, region.addresses = self.points[mask], self.normals[mask], self.addresses[mask]
        return region


def _bone_region(skin: RestSkin, bones: set[str], near: np.ndarray, radius: float) -> _Region:
    """Vertices owned by ``bones``; vertices within ``radius`` of ``near`` when the meshes have no such weights."""
    masks = [np.isin(mesh.vertex_bone, list(bones)) for mesh in skin.meshes]
    if sum(int(m.sum()) for m in masks) >= _MIN_REGION_VERTICES:
        return _Region(skin, masks)
    return _Region(skin, [np.linalg.norm(mesh.vertices - near, axis=1) < radius for mesh in skin.meshes])


def _descendants(skin: RestSkin, root: str) -> set[str]:
    found = {root}
    changed = True
    while changed:
        changed = False
        for bone, parent in skin.bone_parents.items():
            if parent in found and bone not in found:
                found.add(bone)
                changed = True
    return found


def _face_points(skin: RestSkin) -> tuple[dict[str, LandmarkPoint], np.ndarray]:
    """The face landmarks, and the centre [3] of the head's skin (rest pose)."""
    head = skin.bone_heads["Head"]
    top_guess = skin.bone_heads.get("HeadTop_End", head + np.array([0.0, 0.0, 0.25]))
    region = _bone_region(skin, _descendants(skin, "Head"), (head + top_guess) / 2, float(np.linalg.norm(top_guess - head)))
    eyes = {
        side: skin.bone_heads[f"{side.capitalize()}Eye"]
        for side in ("left", "right")
        if f"{side.capitalize()}Eye" in skin.bone_heads
    }
    crown = float(skin.bone_heads["HeadTop_End"][2]) if "HeadTop_End" in skin.bone_heads else None
    try:
        chosen = face_landmark_vertices(region.points, region.normals, float(head[0]), eyes or None, crown)
    except FaceError as error:
        raise RenderError(f"cannot place face landmarks: {error} (is the head mesh skinned to the Head bone?)") from None
    return {name: region.pick(index) for name, index in chosen.items()}, region.points.mean(axis=0)


def _generated_points(skin: RestSkin, landmarks: dict[str, tuple[float, float, float]]) -> dict[str, LandmarkPoint] | None:
    """The landmark vertices a generated character names (rest positions), found on the imported skin.

    ``None`` when any of them is not on the skin (the file was edited or re-posed): the geometric
    rules then place every landmark, rather than mixing two sources on one face.
    """
    points = {}
    for name, position in landmarks.items():
        distances = [np.linalg.norm(mesh.vertices - np.asarray(position), axis=1) for mesh in skin.meshes]
        mesh_index = int(np.argmin([values.min() if len(values) else np.inf for values in distances]))
        vertex = int(np.argmin(distances[mesh_index]))
        if distances[mesh_index][vertex] > _GENERATED_SNAP_M:
            return None
        points[name] = LandmarkPoint("surface", mesh_index=mesh_index, vertex=vertex)
    return points


def _heel(skin: RestSkin, side: str) -> LandmarkPoint:
    prefix = side.capitalize()
    ankle = skin.bone_heads[f"{prefix}Foot"]
    region = _bone_region(skin, {f"{prefix}Foot", f"{prefix}ToeBase", f"{prefix}Toe_End"}, ankle, 0.15)
    region = region.subset(region.points[:, 2] <= ankle[2])
    if len(region) == 0:
        raise RenderError(f"no skin vertices below the {prefix}Foot bone to place the heel")
    return region.pick(int(np.argmax(region.points[:, 1] - 0.5 * region.points[:, 2])))


def _toe_tip(skin: RestSkin, side: str) -> LandmarkPoint:
    """The front-most skin vertex of the foot: the foot index on rigs without ``Toe_End`` (a glTF file has no bone
    tails, so the tail of ``ToeBase`` is the importer's guess, often in the air before the toes)."""
    prefix = side.capitalize()
    ankle = skin.bone_heads[f"{prefix}Foot"]
    region = _bone_region(skin, {f"{prefix}Foot", f"{prefix}ToeBase", f"{prefix}Toe_End"}, ankle, 0.2)
    region = region.subset(region.points[:, 2] <= ankle[2])
    if len(region) == 0:
        raise RenderError(f"no skin vertices below the {prefix}Foot bone to place the foot index")
    return region.pick(int(np.argmin(region.points[:, 1])))


def _hand_point(skin: RestSkin, side: str, rule: str) -> LandmarkPoint:
    prefix = side.capitalize()
    wrist = skin.bone_heads[f"{prefix}Hand"]
    hand_bones = {name for name in skin.bone_heads if name.startswith(f"{prefix}Hand")}
    region = _bone_region(skin, hand_bones, wrist, 0.12)
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


def _resolve(skin: RestSkin, placed: dict[str, LandmarkPoint], landmark: str) -> LandmarkPoint:
    if landmark in placed:
        return placed[landmark]
    source = MIXAMO_LANDMARK_SOURCES[landmark]
    side = "left" if landmark.startswith("left") else "right"
    if source.kind == "surface":
        return _heel(skin, side)
    for option in (source.bone, *source.fallbacks):
        kind, _, bone = option.rpartition(":")
        if kind == "surface":
            return _toe_tip(skin, side) if source.rule == "toe_tip" else _hand_point(skin, side, source.rule)
        if bone in skin.bone_heads:
            owners = frozenset(JOINT_OWNER_BONES[landmark]) | {bone, skin.bone_parents.get(bone, "")} - {""}
            return LandmarkPoint("bone_head", bone=bone, owners=owners)
    raise RenderError(f"the rig has no bone for {landmark} (tried {', '.join((source.bone, *source.fallbacks))})")


def _with_skin_depth(point: LandmarkPoint, skin: RestSkin, tree: BVHTree, face_owner: np.ndarray) -> LandmarkPoint:
    """``point`` with its skin depth: probe the rest mesh from around the limb, toward the joint."""
    if point.kind == "surface":
        return point
    position, tail = skin.bone_heads[point.bone], skin.bone_tails[point.bone]
    parent = skin.bone_parents.get(point.bone, "")
    before = position - skin.bone_heads[parent] if parent else None
    reach = max(skin.height, 1.0)
    depths = []
    for direction in probe_directions(tail - position, before):
        location, _normal, index, distance = tree.ray_cast(Vector(position + direction * reach), Vector(-direction), reach)
        if location is not None and face_owner[index] in point.owners:
            depths.append(reach - distance)
    depth = skin_depth_from_probes(depths, skin.height)
    return LandmarkPoint(point.kind, point.bone, owners=point.owners, skin_depth=depth)


class LandmarkReader:
    """The MediaPipe-33 landmarks of one character, planned once on the rest mesh."""

    def __init__(self, character: Character) -> None:
        self.character = character
        skin = rest_skin(character)
        placed, head_centre = _face_points(skin)
        generated = generated_landmarks(character.armature.get(GENERATED_CHARACTER_PROPERTY))
        from_generator = _generated_points(skin, generated) if generated else None
        self.landmark_source = "generator" if from_generator else "rules"
        placed.update(from_generator or {})
        tree, face_owner = skin.surface_tree()
        self.skin = skin
        self.height_m = skin.height
        self._bone_names = {canonical_bone_name(bone.name): bone.name for bone in character.armature.data.bones}
        self._face_bones = {mesh.name: mesh.face_bone for mesh in skin.meshes}
        self.points = [_with_skin_depth(_resolve(skin, placed, name), skin, tree, face_owner) for name in MEDIAPIPE33_NAMES]
        self.skin_depths = np.array([point.skin_depth for point in self.points])
        self._face_indices = [MEDIAPIPE33_NAMES.index(name) for name in FACE_LANDMARKS]
        head_bone = character.armature.data.bones[self._bone_names["Head"]]
        head_rest = np.array(character.armature.matrix_world @ head_bone.matrix_local)
        self._head_centre_in_bone = np.linalg.solve(head_rest, np.append(head_centre, 1.0))

    def pose(self, depsgraph: bpy.types.Depsgraph, mesh_vertices: list[np.ndarray]) -> PosedLandmarks:
        """Landmarks of the evaluated frame; ``mesh_vertices`` are this frame's world vertices per character
        mesh (from :func:`.meshes.mesh_world_vertices`)."""
        armature = self.character.armature.evaluated_get(depsgraph)
        matrix = armature.matrix_world
        positions = np.empty((len(self.points), 3))
        for index, point in enumerate(self.points):
            if point.kind == "surface":
                positions[index] = mesh_vertices[point.mesh_index][point.vertex]
            else:
                pose_bone = armature.pose.bones[self._bone_names[point.bone]]
                positions[index] = np.array(matrix @ pose_bone.head)
        head = np.array(matrix @ armature.pose.bones[self._bone_names["Head"]].matrix)
        up = head[:3, 1] / np.linalg.norm(head[:3, 1])
        return PosedLandmarks(positions, (head @ self._head_centre_in_bone)[:3], up)

    def joint_track(self, scene: bpy.types.Scene, first: int, last: int) -> np.ndarray:
        """Positions [F, J, 3] (metres) of the bone landmarks relative to the ``Hips`` head, frames ``first``..``last``.

        Only the armature is evaluated (the meshes are left out of the depsgraph meanwhile), so a
        long clip is sampled quickly.
        """
        bone_points = [point for point in self.points if point.kind != "surface"]
        hips = self._bone_names["Hips"]
        meshes = [(obj, obj.hide_viewport) for obj in self.character.meshes]
        track = np.empty((last - first + 1, len(bone_points), 3))
        try:
            for obj, _ in meshes:
                obj.hide_viewport = True
            for offset, frame in enumerate(range(first, last + 1)):
                scene.frame_set(frame)
                armature = self.character.armature.evaluated_get(bpy.context.evaluated_depsgraph_get())
                root = np.array(armature.pose.bones[hips].head)
                rotation = np.array(armature.matrix_world)[:3, :3]
                for index, point in enumerate(bone_points):
                    pose_bone = armature.pose.bones[self._bone_names[point.bone]]
                    track[offset, index] = rotation @ (np.array(pose_bone.head) - root)
        finally:
            for obj, hidden in meshes:
                obj.hide_viewport = hidden
        return track

    def occluded(
        self, scene: bpy.types.Scene, depsgraph: bpy.types.Depsgraph, camera_location: np.ndarray, posed: PosedLandmarks
    ) -> np.ndarray:
        """True [33] for the landmarks the camera at ``camera_location`` [3] does not see."""
        hit_distances, objects, faces, distances = first_surfaces(scene, depsgraph, camera_location, posed.positions)
        own_skin = np.zeros(len(self.points), dtype=bool)
        for index, point in enumerate(self.points):
            owner_table = self._face_bones.get(objects[index])
            if point.owners and owner_table is not None and 0 <= faces[index] < len(owner_table):
                own_skin[index] = owner_table[faces[index]] in point.owners
        turned_away = np.zeros(len(self.points), dtype=bool)
        turned_away[self._face_indices] = facing_away(
            posed.face_directions(self._face_indices), posed.positions[self._face_indices], camera_location
        )
        return occluded_keypoints(hit_distances, distances, own_skin, self.skin_depths, turned_away)


def first_surfaces(
    scene: bpy.types.Scene, depsgraph: bpy.types.Depsgraph, camera_location: np.ndarray, targets: np.ndarray
) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """The first rendered surface on the way from the camera to each target [N, 3].

    Returns its distance [N] (metres, ``inf`` when the ray meets nothing), the name of its
    object and its face index [N] (``""`` / -1 for no hit), and the distance to each target [N].
    Objects hidden from the render (such as meshes the importer left out) and scenery (ground,
    backdrop: :data:`.randomize.SCENERY_PROPERTY`) are passed through.
    """
    origin = Vector(camera_location.tolist())
    hits = np.full(len(targets), np.inf)
    objects = [""] * len(targets)
    faces = np.full(len(targets), -1, dtype=np.int64)
    distances = np.linalg.norm(targets - camera_location, axis=1)
    for index, target in enumerate(targets):
        if distances[index] <= 1e-9:
            continue
        direction = Vector(((target - camera_location) / distances[index]).tolist())
        travelled = 0.0
        for _ in range(_MAX_PASS_THROUGH):
            start = origin + direction * travelled
            found, location, _normal, face, obj, _matrix = scene.ray_cast(
                depsgraph, start, direction, distance=float(distances[index]) + 1.0 - travelled
            )
            if not found:
                break
            travelled = (location - origin).length
            if obj.hide_render or obj.get(SCENERY_PROPERTY):
                travelled += _PASS_THROUGH_STEP_M
                continue
            hits[index], objects[index], faces[index] = travelled, obj.name, face
            break
    return hits, objects, faces, distances
