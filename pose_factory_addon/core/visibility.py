"""Is a keypoint seen by the camera? Decisions from ray-cast facts, in numpy.

The Blender layer casts one ray from the camera toward each keypoint and reports the first
surface it meets: how far away, and which bone owns that face (the bone with the largest
summed skin weight over the face's vertices, on any mesh of the character; ``""`` for faces
with no weights and for other objects). The rules:

* **Joints** (shoulder, elbow, hip, ... inside the body): visible when nothing lies in front,
  or when the first surface is the joint's *own skin near the joint*: a face owned by one of
  the two segments meeting at the joint (:data:`pose_factory_addon.core.skeletons.JOINT_OWNER_BONES`)
  no further in front than the joint's skin depth, measured once on the rest mesh
  (:func:`skin_depth_from_probes`). Anything else in front occludes it: another body part,
  the same limb further along (a forearm pointing at the camera hides its elbow), clothing
  or accessories without weights, or any other object. Inner meshes (joint spheres under a
  shell, a body under clothes) never matter, because only the first surface counts.
* **Surface landmarks** (face, heels, finger points on rigs without fingers) lie on the skin:
  visible when no surface lies more than a small metric tolerance in front; face points are
  also hidden when their skin turns away from the camera (:func:`facing_away`).
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

from . import defaults

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_NOTHING_IN_FRONT_M: Final = 1e-4  # a first hit this close to a joint is the joint's position itself
_PROBE_RING: Final = 16
_PROBE_TILTS_DEG: Final = (0.0, 40.0, -40.0)
_PARENT_CLEARANCE_DEG: Final = 35.0


def probe_directions(axis: npt.ArrayLike, other_axis: npt.ArrayLike | None = None) -> FloatArray:
    """Unit directions [K, 3] around a limb ``axis`` [3]: a ring perpendicular to it and two rings tilted 40 degrees.

    The skin depth of a joint is probed from these directions on the rest mesh. Along a limb a
    joint is hidden by the limb itself, so directions along ``axis`` (the joint's own segment)
    and within 35 degrees of ``other_axis`` (the segment before the joint, where it bends) are
    left out.
    """
    a = np.asarray(axis, dtype=np.float64)
    a = a / max(float(np.linalg.norm(a)), 1e-12)
    helper = np.array([0.0, 0.0, 1.0]) if abs(a[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = np.cross(a, helper)
    u /= np.linalg.norm(u)
    v = np.cross(a, u)
    angles = np.linspace(0.0, 2.0 * math.pi, _PROBE_RING, endpoint=False)
    ring = np.cos(angles)[:, None] * u + np.sin(angles)[:, None] * v
    rings = np.concatenate([np.cos(math.radians(tilt)) * ring + np.sin(math.radians(tilt)) * a for tilt in _PROBE_TILTS_DEG])
    if other_axis is None or not np.any(other_axis):
        return np.asarray(rings)
    other = np.asarray(other_axis, dtype=np.float64)
    other = other / float(np.linalg.norm(other))
    return np.asarray(rings[np.abs(rings @ other) < math.cos(math.radians(_PARENT_CLEARANCE_DEG))])


def skin_depth_from_probes(own_depths: npt.ArrayLike, body_height_m: float) -> float:
    """How far (metres) in front of a joint its own skin may be met, from probe depths on the rest mesh.

    ``own_depths`` are, for each probe direction whose first surface (seen from outside toward
    the joint) was the joint's own skin, that surface's distance from the joint. A high
    percentile of them, scaled and with a margin that grows with the body, covers the joint
    seen from any side without reaching the far side of a shared part (the pelvis is the own
    skin of both hips; the far hip seen from the side lies beyond it).
    """
    depths = np.asarray(own_depths, dtype=np.float64)
    margin = defaults.SKIN_DEPTH_MARGIN_M * body_height_m / defaults.REFERENCE_BODY_HEIGHT_M
    if len(depths) == 0:
        return float(margin)
    depth = float(np.percentile(depths, defaults.SKIN_DEPTH_PERCENTILE)) * defaults.SKIN_DEPTH_SCALE + margin
    return min(depth, defaults.MAX_SKIN_DEPTH_M)


def facing_away(normals: npt.ArrayLike, points: npt.ArrayLike, camera_location: npt.ArrayLike) -> BoolArray:
    """True [N] where the skin at ``points`` [N, 3] (unit-ish ``normals`` [N, 3]) turns away from the camera.

    A face in profile still shows its nose tip, so "away" starts a little past 90 degrees
    (:data:`defaults.FACING_AWAY_COS`).
    """
    n = np.asarray(normals, dtype=np.float64).reshape(-1, 3)
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    to_camera = np.asarray(camera_location, dtype=np.float64) - p
    lengths = np.linalg.norm(n, axis=1) * np.linalg.norm(to_camera, axis=1)
    cosines = np.einsum("ij,ij->i", n, to_camera) / np.maximum(lengths, 1e-12)
    return np.asarray(cosines < defaults.FACING_AWAY_COS)


def occluded_keypoints(
    hit_distance: npt.ArrayLike,
    keypoint_distance: npt.ArrayLike,
    hit_is_own_skin: npt.ArrayLike,
    skin_depth: npt.ArrayLike,
    turned_away: npt.ArrayLike,
) -> BoolArray:
    """True [N] for keypoints the camera does not see (see the module docstring for the rules).

    ``hit_distance`` [N]: metres from the camera to the first surface toward each keypoint
    (``inf`` when the ray meets nothing); ``keypoint_distance`` [N]: metres to the keypoint;
    ``hit_is_own_skin`` [N]: the first surface belongs to the keypoint's own segments;
    ``skin_depth`` [N]: the joint's skin depth in metres, ``nan`` for surface landmarks;
    ``turned_away`` [N]: the surface landmark's skin faces away from the camera.
    """
    hits = np.asarray(hit_distance, dtype=np.float64)
    target = np.asarray(keypoint_distance, dtype=np.float64)
    depth = np.asarray(skin_depth, dtype=np.float64)
    in_front = target - hits
    is_joint = ~np.isnan(depth)
    own_near = np.asarray(hit_is_own_skin, dtype=bool) & (in_front <= np.where(is_joint, depth, 0.0))
    joint_hidden = (in_front > _NOTHING_IN_FRONT_M) & ~own_near
    surface_hidden = (in_front > defaults.SURFACE_OCCLUSION_TOLERANCE_M) | np.asarray(turned_away, dtype=bool)
    return np.asarray(np.where(is_joint, joint_hidden, surface_hidden))
