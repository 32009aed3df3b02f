"""Where the 11 MediaPipe face landmarks sit on a head mesh, found from the head's own geometry.

Rigs rarely carry face bones, and a head bone's position says little about the face (on
Mixamo rigs the ``Head`` joint sits at the top of the neck, level with the mouth). So the
face is read from the skin weighted to the head, in the normalised rest pose (upright,
facing -Y, the character's left on +X), with the proportions every human head shares:

* the chin is the lowest point of the forward part of the head, the crown its top;
* the eyes lie halfway between chin and crown, the mouth a third of the way from the chin
  to the eyes; the nose tip is the most forward point between those two lines;
* the ears are the widest points of the head around the eye line.

Eye bones (``LeftEye``/``RightEye``), where the rig has them, fix the eyes exactly. Each
landmark is then snapped to a skin vertex that faces forward near its target, left ones
only on the left half and right ones only on the right half, so a left/right pair never
shares a vertex.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

FACE_LANDMARKS: Final = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
)

_FRONT_DEPTH_FRACTION: Final = 0.35  # the forward part of the head: this share of its depth behind the front-most point
_MIDLINE_FRACTION: Final = 0.3  # chin and nose lie within this share of the half-width from the midline
_EYE_SPACING: Final = 0.45  # pupil distance from the midline, as a share of the face's half-width at the eye line
_EYE_INNER: Final = 0.5  # inner eye corner, as a share of the pupil's distance from the midline
_EYE_OUTER: Final = 1.45  # outer eye corner, same measure
_MOUTH_CORNER: Final = 0.75  # mouth corner, same measure
_EAR_BAND: Final = (-0.15, 0.05)  # ears are searched between these shares of the head height around the eye line
_WINDOW: Final = 0.05  # search window half-size around a target, share of the head height
_SIDE_MARGIN: Final = 0.02  # share of the half-width a sided point must keep from the midline
_FACING_FRONT: Final = 0.25  # a snapped vertex's normal must face at least this much toward -Y
_DEPTH_PENALTY: Final = 1.0  # metres of distance a vertex 1 m behind the front-most candidate counts as


class FaceError(ValueError):
    """The head region is too small or too flat to place face landmarks."""


def _front_surface_pick(
    points: FloatArray, normals: FloatArray, candidates: npt.NDArray[np.bool_], x: float, z: float, window: float
) -> int:
    """Index of the forward-facing skin vertex nearest to ``(x, z)`` among ``candidates``, preferring the front-most.

    The window grows until it holds a candidate, so sparse (low-poly) heads still get a vertex.
    """
    facing = candidates & (normals[:, 1] <= -_FACING_FRONT)
    pool = facing if facing.any() else candidates
    if not pool.any():
        raise FaceError("no skin vertex on this side of the head")
    for _ in range(6):
        near = pool & (np.abs(points[:, 0] - x) <= window) & (np.abs(points[:, 2] - z) <= window)
        if near.any():
            indices = np.nonzero(near)[0]
            planar = np.hypot(points[indices, 0] - x, points[indices, 2] - z)
            behind = points[indices, 1] - points[indices, 1].min()
            return int(indices[np.argmin(planar + _DEPTH_PENALTY * behind)])
        window *= 1.6
    indices = np.nonzero(pool)[0]
    return int(indices[np.argmin(np.hypot(points[indices, 0] - x, points[indices, 2] - z))])


def face_landmark_vertices(
    points: npt.ArrayLike,
    normals: npt.ArrayLike,
    centre_x: float,
    eye_centres: Mapping[str, npt.ArrayLike] | None = None,
    crown_z: float | None = None,
) -> dict[str, int]:
    """Indices into ``points`` of the 11 MediaPipe face landmarks (:data:`FACE_LANDMARKS`).

    ``points`` [M, 3] and ``normals`` [M, 3] are the head skin's rest vertices and vertex
    normals (world metres, facing -Y, left = +X); ``centre_x`` is the head's midline (the Head
    bone's x). ``eye_centres`` maps ``"left"``/``"right"`` to eye-bone heads [3] when the rig
    has eye bones; ``crown_z`` is the top of the head when the rig marks it (``HeadTop_End``).

    Raises:
        FaceError: fewer than a handful of head vertices, or a head without a front.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    nrm = np.asarray(normals, dtype=np.float64).reshape(-1, 3)
    if len(pts) < 8:
        raise FaceError(f"only {len(pts)} skin vertices on the head")
    top = float(pts[:, 2].max())
    crown = top if crown_z is None or not (top - 0.5 * np.ptp(pts[:, 2]) < crown_z <= top + 0.02) else float(crown_z)
    offset_x = pts[:, 0] - centre_x
    half_width = float(np.abs(offset_x).max())
    front_y = float(pts[:, 1].min())
    depth = float(np.ptp(pts[:, 1]))
    if half_width <= 0 or depth <= 0:
        raise FaceError("the head has no width or depth")
    forward = pts[:, 1] <= front_y + _FRONT_DEPTH_FRACTION * depth
    midline = np.abs(offset_x) <= _MIDLINE_FRACTION * half_width
    chin_pool = forward & midline if (forward & midline).any() else forward
    chin = float(pts[chin_pool, 2].min())
    height = crown - chin
    if height <= 0:
        raise FaceError("the head has no height")
    eye_z = (chin + crown) / 2.0
    mouth_z = chin + (eye_z - chin) / 3.0
    window = _WINDOW * height
    left = offset_x > _SIDE_MARGIN * half_width
    right = offset_x < -_SIDE_MARGIN * half_width

    near_eyes = forward & (np.abs(pts[:, 2] - eye_z) <= window)
    face_half_width = float(np.abs(offset_x[near_eyes]).max()) if near_eyes.any() else half_width
    vertices: dict[str, int] = {}
    nose_band = midline & (pts[:, 2] > mouth_z) & (pts[:, 2] < eye_z)
    nose_pool = nose_band if nose_band.any() else forward & midline
    if not nose_pool.any():
        raise FaceError("no forward skin near the middle of the face")
    nose_indices = np.nonzero(nose_pool)[0]
    vertices["nose"] = int(nose_indices[np.argmin(pts[nose_indices, 1])])
    ear_low, ear_high = eye_z + _EAR_BAND[0] * height, eye_z + _EAR_BAND[1] * height
    ear_band = (pts[:, 2] >= ear_low) & (pts[:, 2] <= ear_high)
    for side, sign, on_side in (("left", 1.0, left), ("right", -1.0, right)):
        if eye_centres is not None and side in eye_centres:
            eye = np.asarray(eye_centres[side], dtype=np.float64)
            pupil_offset, pupil_z = abs(float(eye[0]) - centre_x), float(eye[2])
        else:
            pupil_offset, pupil_z = _EYE_SPACING * face_half_width, eye_z
        for name, share in ((f"{side}_eye_inner", _EYE_INNER), (f"{side}_eye", 1.0), (f"{side}_eye_outer", _EYE_OUTER)):
            x = centre_x + sign * share * pupil_offset
            vertices[name] = _front_surface_pick(pts, nrm, on_side, x, pupil_z, window)
        x = centre_x + sign * _MOUTH_CORNER * pupil_offset
        vertices[f"mouth_{side}"] = _front_surface_pick(pts, nrm, on_side, x, mouth_z, window)
        ear_pool = on_side & ear_band if (on_side & ear_band).any() else on_side
        ear_indices = np.nonzero(ear_pool)[0]
        vertices[f"{side}_ear"] = int(ear_indices[np.argmax(sign * offset_x[ear_indices])])
    return {name: vertices[name] for name in FACE_LANDMARKS}
