"""The sample mannequin's skin: two meshes of smooth primitives with bone weights, in plain numpy.

A wooden-mannequin design: each limb segment is a capsule whose rounded ends are centred on
its joints and rigidly weighted to its bone, so a limb rotating about a joint never opens a
gap or stretches; the torso is one lofted surface blended across the spine bones. Like
Mixamo's X Bot there are two meshes: ``Mannequin_Body`` (light) and ``Mannequin_Joints``
(ball joints and eyes, darker). All coordinates are rest-pose world metres in the
conventions of :mod:`pose_factory_addon.core.sample_rig` (+Z up, facing -Y, left = +X).

The head has a clear face direction for surface landmarks: a nose bump and eyes at -Y,
ears at +-X; each foot has a heel behind the ankle (+Y) and a flat sole on z = 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Final

import numpy as np
import numpy.typing as npt

from .sample_rig import (
    EYE_CENTRE,
    BodyShape,
    Bone,
    body_shape,
    heel_offset,
    mirror_name,
    posed_bones,
    rest_pose_rotations,
    skeleton,
    turned_point,
)
from .skeletons import MIXAMO_LANDMARK_SOURCES

Points = npt.NDArray[np.float64]  # shape [N, 3], metres

BODY_MESH: Final = "Mannequin_Body"
JOINTS_MESH: Final = "Mannequin_Joints"
CLOTHES_MESH: Final = "Mannequin_Clothes"
ROBOT_SHELL_MESH: Final = "Robot_Shell"
ROBOT_JOINTS_MESH: Final = "Robot_Joints"
# How a sample is dressed: ``mannequin`` (body + ball joints, eyes, brows and lips), ``robot`` (a thick outer
# shell over small inner joint spheres, as Mixamo's X Bot family is built) and ``clothed`` (the mannequin
# under a loose shirt and trousers skinned to the same bones).
VARIANTS: Final = ("mannequin", "robot", "clothed")
_ROBOT_GIRTH: Final = 1.2
_INNER_JOINT_RADIUS: Final = 0.01
_CLOTHES_GAP: Final = 0.022
_SHOULDER_BLEND_M: Final = 0.14


@dataclass
class MeshData:
    """A skinned mesh: vertices ``[N, 3]`` (metres), polygons as vertex index tuples, and
    per-bone vertex weights ``{bone: (indices [K], weights [K])}``."""

    vertices: Points = field(default_factory=lambda: np.zeros((0, 3)))
    faces: list[tuple[int, ...]] = field(default_factory=list)
    weights: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] = field(default_factory=dict)

    def add(self, vertices: Points, faces: list[tuple[int, ...]], bone_weights: dict[str, npt.NDArray[np.float64]]) -> None:
        """Append a part whose faces index its own vertices; weights are ``[N]`` per bone."""
        offset = len(self.vertices)
        self.vertices = np.vstack([self.vertices, vertices])
        self.faces.extend(tuple(index + offset for index in face) for face in faces)
        for bone, values in bone_weights.items():
            used = np.nonzero(values > 0.0)[0]
            indices, weights = self.weights.get(bone, (np.zeros(0, np.int64), np.zeros(0)))
            self.weights[bone] = (np.concatenate([indices, used + offset]), np.concatenate([weights, values[used]]))

    def extend(self, other: MeshData) -> None:
        """Append every part of ``other`` (its faces and weights re-indexed)."""
        offset = len(self.vertices)
        self.vertices = np.vstack([self.vertices, other.vertices])
        self.faces.extend(tuple(index + offset for index in face) for face in other.faces)
        for bone, (indices, weights) in other.weights.items():
            own_indices, own_weights = self.weights.get(bone, (np.zeros(0, np.int64), np.zeros(0)))
            self.weights[bone] = (np.concatenate([own_indices, indices + offset]), np.concatenate([own_weights, weights]))


def _merged(*parts: MeshData) -> MeshData:
    mesh = MeshData()
    for part in parts:
        mesh.extend(part)
    return mesh


def _rings_surface(
    centres: Points,
    radii: npt.NDArray[np.float64],
    u: npt.NDArray[np.float64],
    v: npt.NDArray[np.float64],
    bottom: npt.NDArray[np.float64],
    top: npt.NDArray[np.float64],
    around: int,
    exponent: float = 2.0,
) -> tuple[Points, list[tuple[int, ...]]]:
    """A closed surface of rings between two poles.

    Ring ``i`` is a superellipse of half-axes ``radii[i] = (ru, rv)`` around ``centres[i]``
    in the plane spanned by the unit vectors ``u`` and ``v``; rings run from the ``bottom``
    pole to the ``top`` pole along ``u x v``, so faces wind outwards.
    """
    angles = np.linspace(0.0, 2.0 * math.pi, around, endpoint=False)
    cosines, sines = np.cos(angles), np.sin(angles)
    power = 2.0 / exponent
    unit_u = np.sign(cosines) * np.abs(cosines) ** power
    unit_v = np.sign(sines) * np.abs(sines) ** power
    rings = (
        centres[:, None, :]
        + radii[:, 0, None, None] * unit_u[None, :, None] * u[None, None, :]
        + radii[:, 1, None, None] * unit_v[None, :, None] * v[None, None, :]
    )
    ring_count = len(centres)
    vertices = np.vstack([bottom[None, :], rings.reshape(-1, 3), top[None, :]])
    top_index = len(vertices) - 1

    def ring_vertex(ring: int, step: int) -> int:
        return 1 + ring * around + step % around

    faces: list[tuple[int, ...]] = []
    for step in range(around):
        faces.append((0, ring_vertex(0, step + 1), ring_vertex(0, step)))
        last = ring_count - 1
        faces.append((top_index, ring_vertex(last, step), ring_vertex(last, step + 1)))
        for ring in range(ring_count - 1):
            faces.append(
                (
                    ring_vertex(ring, step),
                    ring_vertex(ring, step + 1),
                    ring_vertex(ring + 1, step + 1),
                    ring_vertex(ring + 1, step),
                )
            )
    return vertices, faces


def _frame(axis: Points, reference: tuple[float, float, float]) -> tuple[Points, Points]:
    """Unit vectors ``u`` (``reference`` made perpendicular to ``axis``) and ``v = axis x u``."""
    u = np.asarray(reference, dtype=np.float64)
    u = u - np.dot(u, axis) * axis
    u /= np.linalg.norm(u)
    return u, np.cross(axis, u)


def _capsule(
    start: Points,
    end: Points,
    start_radius: float,
    end_radius: float,
    around: int,
    reference: tuple[float, float, float] = (1.0, 0.0, 0.0),
    cross_section: tuple[float, float] = (1.0, 1.0),
    cap_length: float = 1.0,
    cap_rings: int = 4,
    middle_rings: int = 3,
) -> tuple[Points, list[tuple[int, ...]]]:
    """A tapered capsule from ``start`` to ``end`` with rounded ends centred on them.

    ``cross_section`` scales the radius along ``u`` and ``v`` (flattened hands and feet);
    ``cap_length`` scales how far each rounded end reaches beyond its centre.
    """
    segment = end - start
    length = float(np.linalg.norm(segment))
    axis = segment / length
    u, v = _frame(axis, reference)
    offsets: list[float] = []
    radii: list[float] = []
    for ring in range(1, cap_rings):
        angle = -math.pi / 2.0 + ring * (math.pi / 2.0) / cap_rings
        offsets.append(start_radius * cap_length * math.sin(angle))
        radii.append(start_radius * math.cos(angle))
    for ring in range(middle_rings + 1):
        fraction = ring / middle_rings
        offsets.append(fraction * length)
        radii.append(start_radius + (end_radius - start_radius) * fraction)
    for ring in range(1, cap_rings):
        angle = ring * (math.pi / 2.0) / cap_rings
        offsets.append(length + end_radius * cap_length * math.sin(angle))
        radii.append(end_radius * math.cos(angle))
    centres = start[None, :] + np.asarray(offsets)[:, None] * axis[None, :]
    half_axes = np.asarray(radii)[:, None] * np.asarray(cross_section)[None, :]
    bottom = start - axis * start_radius * cap_length
    top = end + axis * end_radius * cap_length
    return _rings_surface(centres, half_axes, u, v, bottom, top, around)


def _ellipsoid(
    centre: Points, radii: tuple[float, float, float], around: int, rings: int
) -> tuple[Points, list[tuple[int, ...]]]:
    """An axis-aligned ellipsoid with half-axes ``radii`` (x, y, z), poles on the Z axis."""
    latitudes = np.linspace(-math.pi / 2.0, math.pi / 2.0, rings + 1)[1:-1]
    centres = centre[None, :] + np.outer(np.sin(latitudes) * radii[2], [0.0, 0.0, 1.0])
    half_axes = np.cos(latitudes)[:, None] * np.array([radii[0], radii[1]])[None, :]
    bottom = centre - np.array([0.0, 0.0, radii[2]])
    top = centre + np.array([0.0, 0.0, radii[2]])
    return _rings_surface(centres, half_axes, np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]), bottom, top, around)


def _rigid(vertices: Points, bone: str) -> dict[str, npt.NDArray[np.float64]]:
    return {bone: np.ones(len(vertices))}


def _mirrored(vertices: Points, faces: list[tuple[int, ...]]) -> tuple[Points, list[tuple[int, ...]]]:
    """The part reflected through x = 0 (faces reversed so they still wind outwards)."""
    return vertices * np.array([-1.0, 1.0, 1.0]), [tuple(reversed(face)) for face in faces]


def _add_sided(mesh: MeshData, part: tuple[Points, list[tuple[int, ...]]], bone: str) -> None:
    """Add a left-side part rigidly weighted to ``bone`` and its mirror image on the right."""
    vertices, faces = part
    mesh.add(vertices, faces, _rigid(vertices, bone))
    mirrored_vertices, mirrored_faces = _mirrored(vertices, faces)
    mesh.add(mirrored_vertices, mirrored_faces, _rigid(mirrored_vertices, mirror_name(bone)))


# Torso cross-sections of the 1.75 m mannequin: height, X half-width, Y half-depth, Y centre (metres).
_TORSO_RINGS: Final = (
    (0.83, 0.10, 0.08, 0.0),
    (0.875, 0.15, 0.102, 0.005),
    (0.94, 0.172, 0.115, 0.01),
    (1.0, 0.162, 0.11, 0.005),
    (1.06, 0.145, 0.1, -0.005),
    (1.13, 0.148, 0.104, -0.01),
    (1.21, 0.16, 0.113, -0.015),
    (1.29, 0.172, 0.12, -0.015),
    (1.36, 0.178, 0.115, -0.01),
    (1.41, 0.168, 0.1, 0.0),
    (1.45, 0.115, 0.075, 0.005),
    (1.47, 0.065, 0.055, 0.005),
)
_TORSO_BOTTOM: Final = 0.8
_TORSO_TOP: Final = 1.48
# Heights (1.75 m mannequin) where each spine bone fully owns the torso; linear blends between.
_TORSO_ANCHORS: Final = (("Hips", 1.01), ("Spine", 1.11), ("Spine1", 1.22), ("Spine2", 1.33))


def _torso_weights(heights: npt.NDArray[np.float64], scale: float) -> dict[str, npt.NDArray[np.float64]]:
    anchor_heights = np.array([height * scale for _, height in _TORSO_ANCHORS])
    weights: dict[str, npt.NDArray[np.float64]] = {}
    for index, (bone, _) in enumerate(_TORSO_ANCHORS):
        hat = np.zeros(len(_TORSO_ANCHORS))
        hat[index] = 1.0
        weights[bone] = np.interp(heights, anchor_heights, hat)
    return weights


def _with_shoulder_blend(
    vertices: Points, weights: dict[str, npt.NDArray[np.float64]], bones: dict[str, Bone], scale: float
) -> dict[str, npt.NDArray[np.float64]]:
    """Torso weights with the skin in front of and behind each shoulder joint handed to the ``*Shoulder`` bone,
    fading out over :data:`_SHOULDER_BLEND_M`, as rigs weight the chest and back around the shoulders."""
    blended = dict(weights)
    shoulder_total = np.zeros(len(vertices))
    for side in ("Left", "Right"):
        joint = _head(bones, f"{side}Arm")
        across = np.hypot(vertices[:, 0] - joint[0], vertices[:, 2] - joint[2])
        share = np.clip(1.0 - across / (_SHOULDER_BLEND_M * scale), 0.0, 1.0)
        blended[f"{side}Shoulder"] = share
        shoulder_total += share
    for bone in weights:
        blended[bone] = weights[bone] * (1.0 - shoulder_total)
    return blended


def _add_torso(mesh: MeshData, shape: BodyShape, scale: float, bones: dict[str, Bone]) -> None:
    rings = np.array(_TORSO_RINGS)
    belly = shape.belly * np.interp(rings[:, 0], [0.95, 1.1, 1.25], [0.0, 1.0, 0.3])
    centres = np.stack([np.zeros(len(rings)), (rings[:, 3] - belly / 2.0) * scale, rings[:, 0] * scale], axis=1)
    half_axes = np.stack([rings[:, 1] * shape.torso_width, rings[:, 2] * shape.torso_depth + belly / 2.0], axis=1) * scale
    bottom = np.array([0.0, 0.0, _TORSO_BOTTOM * scale])
    top = np.array([0.0, 0.005 * scale, _TORSO_TOP * scale])
    vertices, faces = _rings_surface(
        centres, half_axes, np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]), bottom, top, 32, 2.4
    )
    mesh.add(vertices, faces, _with_shoulder_blend(vertices, _torso_weights(vertices[:, 2], scale), bones, scale))


def _head_point(bones: dict[str, Bone], scale: float, offset: tuple[float, float, float]) -> Points:
    """A point given relative to the top of the neck (the Head bone's head) on the 1.75 m mannequin."""
    return np.asarray(bones["Head"].head, dtype=np.float64) + np.asarray(offset, dtype=np.float64) * scale


# Head features of the 1.75 m mannequin relative to the Head bone's head (metres). As on a real head the
# chin is about 4 cm below the head joint, the eyes lie halfway between chin and crown, the mouth a third
# of the way from the chin to the eyes; the brow ridge and cheeks stand out around the eyes (the sockets).
_SKULL: Final = ((0.0, -0.005, 0.105), (0.078, 0.098, 0.105))
_JAW: Final = ((0.0, -0.04, 0.015), (0.056, 0.058, 0.05))
_CHIN: Final = ((0.0, -0.068, -0.018), 0.022)
_CHEEK: Final = ((0.036, -0.07, 0.05), (0.024, 0.02, 0.024))
_BROW: Final = ((0.006, -0.095, 0.108), (0.05, -0.076, 0.11), 0.011)
_NOSE: Final = ((0.0, -0.094, 0.085), (0.0, -0.112, 0.043), 0.011, 0.015)
_EYE_RADIUS: Final = 0.012
_EYEBROW: Final = ((0.013, -0.103, 0.119), (0.05, -0.086, 0.121), 0.0045)
_UPPER_LIP: Final = ((-0.022, -0.095, 0.006), (0.022, -0.095, 0.006), 0.0062)
_LOWER_LIP: Final = ((-0.018, -0.093, -0.006), (0.018, -0.093, -0.006), 0.0068)
_EAR: Final = ((0.079, 0.0, 0.07), (0.014, 0.03, 0.038))


def _add_head(body: MeshData, face: MeshData, bones: dict[str, Bone], scale: float) -> None:
    """Skull, jaw, chin, cheeks, brow, nose and ears on ``body``; eyes, eyebrows and lips (dark) on ``face``.

    Eyeballs are weighted to the eye bones when the skeleton has them, else to ``Head``.
    """

    def point(offset: tuple[float, float, float]) -> Points:
        return _head_point(bones, scale, offset)

    def scaled(radii: tuple[float, float, float]) -> tuple[float, float, float]:
        return (radii[0] * scale, radii[1] * scale, radii[2] * scale)

    def bar(
        ends: tuple[tuple[float, float, float], tuple[float, float, float], float], flat: float
    ) -> tuple[Points, list[tuple[int, ...]]]:
        start, end, radius = ends
        return _capsule(
            point(start),
            point(end),
            radius * scale,
            radius * scale,
            10,
            (0.0, 0.0, 1.0),
            (flat, 1.0),
            cap_rings=3,
            middle_rings=2,
        )

    for centre, radii, around, rings in ((*_SKULL, 28, 18), (*_JAW, 20, 10)):
        part = _ellipsoid(point(centre), scaled(radii), around, rings)
        body.add(*part, _rigid(part[0], "Head"))
    chin = _ellipsoid(point(_CHIN[0]), scaled((_CHIN[1],) * 3), 14, 8)
    body.add(*chin, _rigid(chin[0], "Head"))
    cheek = _ellipsoid(point(_CHEEK[0]), scaled(_CHEEK[1]), 14, 8)
    brow = bar(_BROW, 0.55)
    ear = _ellipsoid(point(_EAR[0]), scaled(_EAR[1]), 12, 8)
    for part in (cheek, brow, ear):
        body.add(*part, _rigid(part[0], "Head"))
        body.add(*_mirrored(*part), _rigid(part[0], "Head"))
    nose_start, nose_end, nose_start_radius, nose_end_radius = _NOSE
    nose = _capsule(point(nose_start), point(nose_end), nose_start_radius * scale, nose_end_radius * scale, 12)
    body.add(*nose, _rigid(nose[0], "Head"))
    eye = _ellipsoid(point(EYE_CENTRE), scaled((_EYE_RADIUS,) * 3), 12, 8)
    eye_bone = "LeftEye" if "LeftEye" in bones else "Head"
    face.add(*eye, _rigid(eye[0], eye_bone))
    face.add(*_mirrored(*eye), _rigid(eye[0], mirror_name(eye_bone)))
    eyebrow = bar(_EYEBROW, 0.5)
    face.add(*eyebrow, _rigid(eyebrow[0], "Head"))
    face.add(*_mirrored(*eyebrow), _rigid(eyebrow[0], "Head"))
    for lip in (bar(_UPPER_LIP, 0.6), bar(_LOWER_LIP, 0.6)):
        face.add(*lip, _rigid(lip[0], "Head"))
    neck_bottom = np.asarray(bones["Neck"].head) - np.array([0.0, 0.0, 0.02 * scale])
    neck = _capsule(neck_bottom, point((0.0, 0.0, 0.03)), 0.052 * scale, 0.048 * scale, 20)
    body.add(*neck, _rigid(neck[0], "Neck"))


def _head(bones: dict[str, Bone], name: str) -> Points:
    return np.asarray(bones[name].head, dtype=np.float64)


def _add_left_arm(body: MeshData, joints: MeshData, bones: dict[str, Bone], shape: BodyShape, scale: float) -> None:
    girth = scale * shape.limb_girth
    shoulder, elbow, wrist = _head(bones, "LeftArm"), _head(bones, "LeftForeArm"), _head(bones, "LeftHand")
    _add_sided(body, _capsule(shoulder, elbow, 0.05 * girth, 0.04 * girth, 18, (0.0, 0.0, 1.0)), "LeftArm")
    _add_sided(body, _capsule(elbow, wrist, 0.039 * girth, 0.028 * girth, 18, (0.0, 0.0, 1.0)), "LeftForeArm")
    _add_sided(joints, _ellipsoid(shoulder, (0.056 * girth,) * 3, 18, 10), "LeftShoulder")
    _add_sided(joints, _ellipsoid(elbow, (0.042 * girth,) * 3, 14, 8), "LeftArm")
    _add_sided(joints, _ellipsoid(wrist, (0.03 * girth,) * 3, 12, 8), "LeftForeArm")
    hand = scale * (1.0 + 0.25 * (shape.limb_girth - 1.0))
    palm = _capsule(
        wrist + np.array([0.018, -0.002, 0.0]) * scale,
        wrist + np.array([0.078, -0.002, 0.0]) * scale,
        0.042 * hand,
        0.044 * hand,
        16,
        (0.0, 1.0, 0.0),
        (1.0, 0.4),
        0.45,
    )
    _add_sided(body, palm, "LeftHand")
    for finger in ("Thumb", "Index", "Middle", "Ring", "Pinky"):
        radius = (0.0115 if finger == "Thumb" else 0.0095) * hand
        for index in (1, 2, 3):
            bone = f"LeftHand{finger}{index}"
            start, end = _head(bones, bone), _head(bones, f"LeftHand{finger}{index + 1}")
            if index == 3:
                end = end - (end - start) / np.linalg.norm(end - start) * radius * 0.8
            phalanx = _capsule(start, end, radius, radius * 0.9, 8, (0.0, 0.0, 1.0), cap_rings=3, middle_rings=1)
            _add_sided(body, phalanx, bone)


_SOLE_RADIUS: Final = 0.042
_SOLE_FLATNESS: Final = 0.75


def _foot_scale(shape: BodyShape, scale: float) -> float:
    return scale * (1.0 + 0.2 * (shape.limb_girth - 1.0))


def _add_left_leg(body: MeshData, joints: MeshData, bones: dict[str, Bone], shape: BodyShape, scale: float) -> None:
    girth = scale * shape.limb_girth
    hip, knee, ankle = _head(bones, "LeftUpLeg"), _head(bones, "LeftLeg"), _head(bones, "LeftFoot")
    ball, toe = _head(bones, "LeftToeBase"), _head(bones, "LeftToe_End")
    _add_sided(body, _capsule(hip, knee, 0.078 * girth, 0.053 * girth, 20, (1.0, 0.0, 0.0)), "LeftUpLeg")
    _add_sided(body, _capsule(knee, ankle, 0.052 * girth, 0.035 * girth, 18, (1.0, 0.0, 0.0)), "LeftLeg")
    _add_sided(joints, _ellipsoid(knee, (0.057 * girth,) * 3, 16, 10), "LeftUpLeg")
    _add_sided(joints, _ellipsoid(ankle, (0.04 * girth,) * 3, 12, 8), "LeftLeg")
    foot = _foot_scale(shape, scale)
    flatness, cap = _SOLE_FLATNESS, 0.8
    sole_radius = _SOLE_RADIUS * foot
    heel_back = ankle[1] + heel_offset(bones)
    heel_centre = np.array([ankle[0], heel_back - sole_radius * cap, sole_radius * flatness])
    ball_radius = 0.046 * foot
    ball_centre = np.array([ball[0], ball[1] + 0.01 * scale, ball_radius * flatness])
    sole = _capsule(heel_centre, ball_centre, sole_radius, ball_radius, 18, (1.0, 0.0, 0.0), (1.0, flatness), cap)
    _add_sided(body, sole, "LeftFoot")
    instep_end = np.array([ball[0], ball[1] * 0.45, ankle[2] * 0.55])
    _add_sided(body, _capsule(ankle, instep_end, 0.038 * foot, 0.036 * foot, 14, (1.0, 0.0, 0.0)), "LeftFoot")
    toe_radius, toe_flatness = 0.04 * foot, 0.62
    toe_start = np.array([ball[0], ball[1] - 0.005 * scale, toe_radius * toe_flatness])
    toe_end = np.array([toe[0], toe[1] + toe_radius * 0.6, toe_radius * toe_flatness])
    toes = _capsule(toe_start, toe_end, toe_radius, 0.034 * foot, 16, (1.0, 0.0, 0.0), (1.0, toe_flatness), 0.6)
    _add_sided(body, toes, "LeftToeBase")


# Inner joint spheres of the robot: (bone whose head is the centre, bone the sphere is weighted to).
_INNER_JOINTS: Final = (
    ("LeftArm", "LeftShoulder"),
    ("LeftForeArm", "LeftArm"),
    ("LeftHand", "LeftForeArm"),
    ("LeftUpLeg", "Hips"),
    ("LeftLeg", "LeftUpLeg"),
    ("LeftFoot", "LeftLeg"),
)


def _inner_joints(bones: dict[str, Bone], scale: float) -> MeshData:
    mesh = MeshData()
    for centre_bone, weight_bone in _INNER_JOINTS:
        _add_sided(mesh, _ellipsoid(_head(bones, centre_bone), (_INNER_JOINT_RADIUS * scale,) * 3, 10, 6), weight_bone)
    return mesh


def _transferred_weights(vertices: Points, skin: MeshData) -> dict[str, npt.NDArray[np.float64]]:
    """Weights [N] per bone for ``vertices``, copied from the nearest vertex of ``skin``.

    This is how clothing is usually skinned (Blender's weight transfer, Mixamo's auto-rigger):
    a sleeve follows the arm under it, the collar the shoulders under it.
    """
    dense = {bone: np.zeros(len(skin.vertices)) for bone in skin.weights}
    for bone, (indices, weights) in skin.weights.items():
        dense[bone][indices] = weights
    nearest = np.empty(len(vertices), dtype=np.int64)
    for start in range(0, len(vertices), 512):
        chunk = vertices[start : start + 512]
        distances = np.linalg.norm(chunk[:, None, :] - skin.vertices[None, :, :], axis=2)
        nearest[start : start + len(chunk)] = np.argmin(distances, axis=1)
    return {bone: values[nearest] for bone, values in dense.items() if values[nearest].any()}


def _clothes(bones: dict[str, Bone], shape: BodyShape, scale: float, skin: MeshData) -> MeshData:
    """A loose T-shirt (torso and upper sleeves) and long trousers, about 2 cm off ``skin``, skinned from it."""
    parts = MeshData()
    gap = _CLOTHES_GAP * scale
    girth = scale * shape.limb_girth
    rings = np.array([ring for ring in _TORSO_RINGS if ring[0] >= 0.875])
    centres = np.stack([np.zeros(len(rings)), rings[:, 3] * scale, rings[:, 0] * scale], axis=1)
    half_axes = np.stack([rings[:, 1] * shape.torso_width, rings[:, 2] * shape.torso_depth + shape.belly / 2.0], axis=1)
    half_axes = half_axes * scale + gap
    shirt = _rings_surface(
        centres, half_axes, np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]),
        np.array([0.0, 0.0, 0.84 * scale]), np.array([0.0, 0.0, 1.5 * scale]), 32, 2.4,
    )  # fmt: skip
    parts.add(*shirt, {})
    shoulder, elbow = _head(bones, "LeftArm"), _head(bones, "LeftForeArm")
    sleeve_end = shoulder + 0.8 * (elbow - shoulder)
    _add_sided(parts, _capsule(shoulder, sleeve_end, 0.05 * girth + gap, 0.043 * girth + gap, 18, (0.0, 0.0, 1.0)), "LeftArm")
    hip, knee, ankle = _head(bones, "LeftUpLeg"), _head(bones, "LeftLeg"), _head(bones, "LeftFoot")
    _add_sided(parts, _capsule(hip, knee, 0.078 * girth + gap, 0.055 * girth + gap, 20, (1.0, 0.0, 0.0)), "LeftUpLeg")
    hem = knee + 0.7 * (ankle - knee)
    _add_sided(parts, _capsule(knee, hem, 0.055 * girth + gap, 0.042 * girth + gap, 18, (1.0, 0.0, 0.0)), "LeftLeg")
    clothes = MeshData()
    clothes.add(parts.vertices, parts.faces, _transferred_weights(parts.vertices, skin))
    return clothes


def mannequin_meshes(
    shape_name: str, variant: str = "mannequin", eye_bones: bool = False, rest_pose: str = "tpose"
) -> dict[str, MeshData]:
    """The meshes of a sample in its rest pose (about 10,000 vertices in all), by name; see :data:`VARIANTS`.

    An A-pose (``rest_pose="apose"``) is the T-pose mesh with its arms lowered by the skin weights
    (linear blend skinning), as a character modelled in the T-pose and re-rigged in the A-pose is.
    """
    if variant not in VARIANTS:
        raise ValueError(f"unknown sample variant {variant!r} (choose from {', '.join(VARIANTS)})")
    turns = rest_pose_rotations(rest_pose)
    shape = body_shape(shape_name)
    if variant == "robot":
        shape = replace(shape, limb_girth=shape.limb_girth * _ROBOT_GIRTH)
    bones = skeleton(shape_name, eye_bones)
    scale = shape.height_m / 1.75
    body, balls, face = MeshData(), MeshData(), MeshData()
    _add_torso(body, shape, scale, bones)
    _add_head(body, face, bones, scale)
    _add_left_arm(body, balls, bones, shape, scale)
    _add_left_leg(body, balls, bones, shape, scale)
    if variant == "robot":
        meshes = {ROBOT_SHELL_MESH: _merged(body, balls), ROBOT_JOINTS_MESH: _merged(_inner_joints(bones, scale), face)}
    else:
        meshes = {BODY_MESH: body, JOINTS_MESH: _merged(balls, face)}
        if variant == "clothed":
            meshes[CLOTHES_MESH] = _clothes(bones, shape, scale, _merged(body, balls))
    if turns:
        for mesh in meshes.values():
            mesh.vertices = _blend_skinned(mesh, bones, turns)
    return meshes


def _blend_skinned(mesh: MeshData, bones: dict[str, Bone], turns: dict[str, npt.NDArray[np.float64]]) -> Points:
    """The vertices [N, 3] moved by the bone turns of another rest pose, each by its weighted bones;
    weight left over (a vertex weighted less than 1 in all) keeps the vertex where it was."""
    moved = np.zeros_like(mesh.vertices)
    total = np.zeros(len(mesh.vertices))
    for bone, (indices, weights) in mesh.weights.items():
        if bone not in turns:
            continue
        targets = np.array([turned_point(vertex, bone, bones, turns) for vertex in mesh.vertices[indices]])
        np.add.at(moved, indices, weights[:, None] * targets)
        np.add.at(total, indices, weights)
    result: Points = moved + (1.0 - total)[:, None] * mesh.vertices
    return result


def surface_reference_points(shape_name: str) -> dict[str, tuple[str, Points]]:
    """Rest-pose points on the skin that carry a MediaPipe meaning, with the bone each moves with.

    ``nose`` (tip of the nose bump), ``left_eye``/``right_eye`` (front of each eyeball),
    ``left_ear``/``right_ear`` (outermost point of each ear), ``left_heel``/``right_heel``
    (back of each heel at sole height). Metres, rest pose; see
    :func:`pose_factory_addon.core.sample_rig.posed_point` to move them to a frame.
    """
    shape = body_shape(shape_name)
    bones = skeleton(shape_name)
    scale = shape.height_m / 1.75
    nose_start, nose_end = _head_point(bones, scale, _NOSE[0]), _head_point(bones, scale, _NOSE[1])
    nose_tip = nose_end + (nose_end - nose_start) / np.linalg.norm(nose_end - nose_start) * _NOSE[3] * scale
    points: dict[str, tuple[str, Points]] = {"nose": ("Head", nose_tip)}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        eye = _head_point(bones, scale, (sign * EYE_CENTRE[0], EYE_CENTRE[1] - _EYE_RADIUS, EYE_CENTRE[2]))
        ear_centre, ear_radii = _EAR
        ear = _head_point(bones, scale, (sign * (ear_centre[0] + ear_radii[0]), ear_centre[1], ear_centre[2]))
        ankle = _head(bones, f"{side.capitalize()}Foot")
        heel = np.array([ankle[0], ankle[1] + heel_offset(bones), _SOLE_RADIUS * _SOLE_FLATNESS * _foot_scale(shape, scale)])
        points[f"{side}_eye"] = ("Head", eye)
        points[f"{side}_ear"] = ("Head", ear)
        points[f"{side}_heel"] = (f"{side.capitalize()}Foot", heel)
    return points


def known_landmark_positions(shape_name: str, motion_name: str, frame: int) -> dict[str, Points]:
    """Ground-truth MediaPipe-33 landmarks of a sample character at a frame, world metres ``[3]``.

    Bone-head landmarks (shoulders, elbows, wrists, pinky/index/thumb, hips, knees, ankles,
    foot index) follow :data:`pose_factory_addon.core.skeletons.MIXAMO_LANDMARK_SOURCES`;
    ``nose``, eyes, ears and heels are the skin points of :func:`surface_reference_points`
    (a renderer choosing its own skin vertex will be within about 2 cm of them). Eye corners
    and mouth corners are not given.
    """
    orientations, heads = posed_bones(shape_name, motion_name, frame)
    bones = skeleton(shape_name)
    landmarks = {name: heads[source.bone] for name, source in MIXAMO_LANDMARK_SOURCES.items() if source.kind == "bone_head"}
    for name, (bone, rest_point) in surface_reference_points(shape_name).items():
        landmarks[name] = heads[bone] + orientations[bone] @ (rest_point - np.asarray(bones[bone].head))
    return landmarks
