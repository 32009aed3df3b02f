"""Rotations as numpy arrays: unit quaternions ``(w, x, y, z)`` [..., 4] and matrices [..., 3, 3].

Every function works on stacks (any leading shape), because motion clips hold one rotation per
frame and segment. Quaternions and matrices are active rotations of column vectors: ``v' = R @ v``.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
_EPSILON = 1e-12


def normalised(quaternions: npt.ArrayLike) -> FloatArray:
    """Unit quaternions [..., 4]; a zero quaternion becomes the identity ``(1, 0, 0, 0)``."""
    q = np.array(quaternions, dtype=np.float64)
    norms = np.linalg.norm(q, axis=-1, keepdims=True)
    zero = norms[..., 0] < _EPSILON
    q[zero] = (1.0, 0.0, 0.0, 0.0)
    norms[zero] = 1.0
    result: FloatArray = q / norms
    return result


def continuous(quaternions: npt.ArrayLike) -> FloatArray:
    """The sequence [F, ..., 4] with signs flipped so consecutive quaternions (along axis 0) have a
    non-negative dot product: ``q`` and ``-q`` are one rotation, but interpolating between them
    would take the long way round."""
    q = np.array(quaternions, dtype=np.float64)
    for index in range(1, len(q)):
        flip = np.sum(q[index] * q[index - 1], axis=-1) < 0.0
        q[index][flip] *= -1.0
    return q


def multiply(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """The Hamilton product ``a * b`` [..., 4] (rotation ``b`` first, then ``a``)."""
    p, q = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    w1, x1, y1, z1 = np.moveaxis(p, -1, 0)
    w2, x2, y2, z2 = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ],
        axis=-1,
    )


def axis_angle(axis: npt.ArrayLike, angle: npt.ArrayLike) -> FloatArray:
    """Quaternions [..., 4] rotating by ``angle`` (radians, [...]) about the unit ``axis`` [3] or [..., 3]."""
    half = np.asarray(angle, dtype=np.float64)[..., None] / 2.0
    direction = np.asarray(axis, dtype=np.float64)
    return np.concatenate([np.cos(half), np.sin(half) * direction], axis=-1)


def to_matrix(quaternions: npt.ArrayLike) -> FloatArray:
    """Rotation matrices [..., 3, 3] of unit quaternions [..., 4]."""
    w, x, y, z = np.moveaxis(normalised(quaternions), -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=-1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=-1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1),
        ],
        axis=-2,
    )


def from_matrix(matrices: npt.ArrayLike) -> FloatArray:
    """Unit quaternions [..., 4] (``w >= 0``) of rotation matrices [..., 3, 3]."""
    m = np.asarray(matrices, dtype=np.float64)
    shape = m.shape[:-2]
    m = m.reshape(-1, 3, 3)
    trace = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    candidates = np.stack(
        [
            np.stack([1 + trace, m[:, 2, 1] - m[:, 1, 2], m[:, 0, 2] - m[:, 2, 0], m[:, 1, 0] - m[:, 0, 1]], axis=-1),
            np.stack([m[:, 2, 1] - m[:, 1, 2], 1 + 2 * m[:, 0, 0] - trace, m[:, 0, 1] + m[:, 1, 0], m[:, 0, 2] + m[:, 2, 0]], -1),
            np.stack([m[:, 0, 2] - m[:, 2, 0], m[:, 0, 1] + m[:, 1, 0], 1 + 2 * m[:, 1, 1] - trace, m[:, 1, 2] + m[:, 2, 1]], -1),
            np.stack([m[:, 1, 0] - m[:, 0, 1], m[:, 0, 2] + m[:, 2, 0], m[:, 1, 2] + m[:, 2, 1], 1 + 2 * m[:, 2, 2] - trace], -1),
        ],
        axis=1,
    )
    # The candidate with the largest diagonal term is the numerically stable one.
    best = np.argmax(np.stack([trace, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=-1), axis=-1)
    q = normalised(candidates[np.arange(len(m)), best])
    q[q[:, 0] < 0.0] *= -1.0
    result: FloatArray = q.reshape(*shape, 4)
    return result


def slerp(a: npt.ArrayLike, b: npt.ArrayLike, fraction: npt.ArrayLike) -> FloatArray:
    """Spherical interpolation [..., 4] from ``a`` to ``b`` (unit quaternions [..., 4]) by ``fraction`` [...],
    along the shorter arc."""
    p, q = normalised(a), normalised(b)
    t = np.asarray(fraction, dtype=np.float64)[..., None]
    dot = np.sum(p * q, axis=-1, keepdims=True)
    q = np.where(dot < 0.0, -q, q)
    dot = np.abs(dot)
    angle = np.arccos(np.clip(dot, -1.0, 1.0))
    sine = np.sin(angle)
    near = sine < 1e-6
    safe = np.where(near, 1.0, sine)
    weight_a = np.where(near, 1.0 - t, np.sin((1.0 - t) * angle) / safe)
    weight_b = np.where(near, t, np.sin(t * angle) / safe)
    return normalised(weight_a * p + weight_b * q)


def between(source: npt.ArrayLike, target: npt.ArrayLike) -> FloatArray:
    """The smallest rotation matrix [..., 3, 3] turning unit vector ``source`` [..., 3] onto ``target`` [..., 3].

    Opposite vectors turn about any axis perpendicular to them.
    """
    u = np.asarray(source, dtype=np.float64)
    v = np.asarray(target, dtype=np.float64)
    u, v = np.broadcast_arrays(u, v)
    axis = np.cross(u, v)
    cosine = np.sum(u * v, axis=-1)
    opposite = cosine < -1.0 + 1e-9
    if np.any(opposite):
        helper = np.where(np.abs(u[..., :1]) < 0.9, np.array([1.0, 0.0, 0.0]), np.array([0.0, 1.0, 0.0]))
        perpendicular = np.cross(u, helper)
        perpendicular /= np.linalg.norm(perpendicular, axis=-1, keepdims=True)
        axis = np.where(opposite[..., None], perpendicular, axis)
    q = np.concatenate([(1.0 + cosine)[..., None], axis], axis=-1)
    q[opposite] = np.concatenate([np.zeros((int(opposite.sum()), 1)), axis[opposite]], axis=-1)
    return to_matrix(q)


def angle_between(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """Angles [...] in degrees between vectors ``a`` and ``b`` [..., 3] (any lengths above zero)."""
    u = np.asarray(a, dtype=np.float64)
    v = np.asarray(b, dtype=np.float64)
    cosine = np.sum(u * v, axis=-1) / np.maximum(np.linalg.norm(u, axis=-1) * np.linalg.norm(v, axis=-1), _EPSILON)
    return np.asarray(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))


def about_z(angle: npt.ArrayLike) -> FloatArray:
    """Rotation matrices [..., 3, 3] about world +Z (up) by ``angle`` radians [...]."""
    a = np.asarray(angle, dtype=np.float64)
    c, s = np.cos(a), np.sin(a)
    zero, one = np.zeros_like(a), np.ones_like(a)
    return np.stack(
        [np.stack([c, -s, zero], axis=-1), np.stack([s, c, zero], axis=-1), np.stack([zero, zero, one], axis=-1)], axis=-2
    )
