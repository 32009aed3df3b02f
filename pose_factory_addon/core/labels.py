"""Per-image labels from projected keypoints: visibility codes, bounding boxes and the label record.

The Blender layer hands over facts (world positions of the 33 MediaPipe landmarks, ray-cast
hit distances, mesh vertices, camera matrices); every decision is made here, in numpy, so it
is unit-tested without Blender. The record's shape is documented in ``docs/label-format.md``.

Visibility codes (COCO's): ``2`` visible, ``1`` inside the image but hidden behind the body,
``0`` outside the image (or behind the camera).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from . import defaults
from .camera import FloatArray, OrbitView, camera_points, project_points
from .skeletons import MEDIAPIPE33_NAMES, keypoint_set

VISIBLE = 2
OCCLUDED = 1
OUTSIDE = 0

_PIXEL_DECIMALS = 3
_METRE_DECIMALS = 5


def inside_image(pixels: FloatArray, depth: FloatArray, width: int, height: int) -> npt.NDArray[np.bool_]:
    """True [N] for points in front of the camera whose pixel lies within ``[0, width) x [0, height)``."""
    x, y = pixels[:, 0], pixels[:, 1]
    return (depth > 0) & (x >= 0) & (x < width) & (y >= 0) & (y < height)


def visibility_codes(inside: npt.ArrayLike, occluded: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """COCO visibility [N]: 0 outside the image, else 1 when occluded, else 2."""
    inside_mask = np.asarray(inside, dtype=bool)
    occluded_mask = np.asarray(occluded, dtype=bool)
    return np.where(~inside_mask, OUTSIDE, np.where(occluded_mask, OCCLUDED, VISIBLE)).astype(np.int64)


def mediapipe_scores(codes: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """MediaPipe's per-landmark ``visibility`` and ``presence`` in [0, 1] from visibility codes.

    Ground truth is certain: ``visibility`` is 1 for visible landmarks, ``presence`` is 1 for
    landmarks inside the image (visible or occluded), 0 otherwise.
    """
    values = np.asarray(codes)
    return (values == VISIBLE).astype(np.float64), (values >= OCCLUDED).astype(np.float64)


def pixel_bbox(pixels: FloatArray, depth: FloatArray, width: int, height: int) -> list[float]:
    """Tight ``[x, y, w, h]`` (pixels) around the points in front of the camera, clipped to the image.

    ``[0, 0, 0, 0]`` when nothing is in view.
    """
    in_front = pixels[depth > 0]
    if len(in_front) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    low = np.clip(in_front.min(axis=0), 0, [width, height])
    high = np.clip(in_front.max(axis=0), 0, [width, height])
    if np.any(high <= low):
        return [0.0, 0.0, 0.0, 0.0]
    return [round(float(value), _PIXEL_DECIMALS) for value in (low[0], low[1], high[0] - low[0], high[1] - low[1])]


def _rounded(array: FloatArray, decimals: int) -> list[list[float]]:
    return [[round(float(value), decimals) for value in row] for row in np.asarray(array)]


def image_label(
    *,
    image: str,
    character: str,
    view: OrbitView,
    frame: int,
    width: int,
    height: int,
    K: FloatArray,
    R: FloatArray,
    t: FloatArray,
    matrix_world: npt.ArrayLike,
    landmarks_world: npt.ArrayLike,
    occluded: npt.ArrayLike,
    bbox: list[float],
    label_sets: Sequence[str] = defaults.LABEL_SETS,
) -> dict[str, Any]:
    """The label record of one image (the JSON written next to it).

    ``landmarks_world`` [33, 3] are the MediaPipe-33 landmarks in world metres, ``occluded``
    [33] the ray-cast results; every requested label set is a selection of those landmarks.
    Keypoints are ``[x, y, v]`` (pixels, top-left origin), 3D keypoints ``[X, Y, Z]`` in
    OpenCV camera space (metres).
    """
    world = np.asarray(landmarks_world, dtype=np.float64).reshape(-1, 3)
    if len(world) != len(MEDIAPIPE33_NAMES):
        raise ValueError(f"expected {len(MEDIAPIPE33_NAMES)} landmarks, got {len(world)}")
    pixels, depth = project_points(world, K, R, t)
    codes = visibility_codes(inside_image(pixels, depth, width, height), occluded)
    in_camera = camera_points(world, R, t)
    keypoints: dict[str, list[list[float]]] = {}
    keypoints_3d: dict[str, list[list[float]]] = {}
    for name in label_sets:
        indices = list(keypoint_set(name).mediapipe_indices)
        keypoints[name] = [
            [round(float(pixels[i, 0]), _PIXEL_DECIMALS), round(float(pixels[i, 1]), _PIXEL_DECIMALS), int(codes[i])]
            for i in indices
        ]
        keypoints_3d[name] = _rounded(in_camera[indices], _METRE_DECIMALS)
    return {
        "image": image,
        "width": int(width),
        "height": int(height),
        "character": character,
        "view": view.name,
        "azimuth_deg": float(view.azimuth_deg),
        "elevation_deg": float(view.elevation_deg),
        "frame": int(frame),
        "camera": {
            "K": _rounded(K, 6),
            "R": _rounded(R, 8),
            "t": [round(float(value), 8) for value in t],
            "matrix_world": _rounded(np.asarray(matrix_world, dtype=np.float64), 8),
        },
        "bbox": bbox,
        "keypoints": keypoints,
        "keypoints_3d": keypoints_3d,
    }
