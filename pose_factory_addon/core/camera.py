"""Camera maths in plain numpy: intrinsics, extrinsics, projection and orbit placement.

Conventions used everywhere in Pose Factory:

- World: Blender's, metres, +Z up; a normalised character stands at the origin facing -Y,
  so its own left side is +X and its right side is -X.
- Blender camera axes: the camera looks along its local -Z with +Y up (``matrix_world``).
- OpenCV camera axes: +X right, +Y down, +Z forward. ``R``, ``t`` map world points to
  OpenCV camera coordinates: ``p_cam = R @ p_world + t``.
- Pixels: continuous coordinates with the origin at the top-left corner of the image and +y
  down; pixel ``(i, j)`` covers ``[i, i + 1) x [j, j + 1)``, so the image centre is
  ``(width / 2, height / 2)``.
- Orbit views: azimuth 0 is the character's front (camera on -Y); azimuth 90 puts the camera
  on the character's right side (-X), so the seed's view names (``front, front_right, right,
  ...``) say which side of the character each picture shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from . import defaults

FloatArray = npt.NDArray[np.float64]

# Blender camera axes (x right, y up, z backward) to OpenCV camera axes (x right, y down, z forward).
BLENDER_TO_OPENCV_CAMERA: Final = np.diag([1.0, -1.0, -1.0])
SENSOR_FITS: Final = ("AUTO", "HORIZONTAL", "VERTICAL")


@dataclass(frozen=True)
class OrbitView:
    """One camera direction around the character: a name used in file names and two angles (degrees)."""

    name: str
    azimuth_deg: float
    elevation_deg: float


def intrinsics(
    lens_mm: float,
    sensor_width_mm: float,
    sensor_height_mm: float,
    sensor_fit: str,
    width: int,
    height: int,
    shift_x: float = 0.0,
    shift_y: float = 0.0,
    pixel_aspect_x: float = 1.0,
    pixel_aspect_y: float = 1.0,
) -> FloatArray:
    """The 3x3 pinhole matrix ``K`` (pixels) of a Blender perspective camera.

    Follows Blender's sensor fit: ``AUTO`` applies ``sensor_width`` to the larger image
    dimension, ``HORIZONTAL``/``VERTICAL`` apply the width/height sensor size to that axis.
    Shifts are fractions of the larger image dimension, as in Blender.
    """
    if sensor_fit not in SENSOR_FITS:
        raise ValueError(f"unknown sensor fit {sensor_fit!r} (choose from {', '.join(SENSOR_FITS)})")
    aspect_width = width * pixel_aspect_x
    aspect_height = height * pixel_aspect_y
    if sensor_fit == "AUTO":
        fit_horizontal = aspect_width >= aspect_height
        sensor_mm = sensor_width_mm
    else:
        fit_horizontal = sensor_fit == "HORIZONTAL"
        sensor_mm = sensor_width_mm if fit_horizontal else sensor_height_mm
    view_size = aspect_width if fit_horizontal else aspect_height
    pixels_per_mm = view_size / sensor_mm
    fx = lens_mm * pixels_per_mm / pixel_aspect_x
    fy = lens_mm * pixels_per_mm / pixel_aspect_y
    larger = max(width, height)
    cx = width / 2.0 - shift_x * larger
    cy = height / 2.0 + shift_y * larger
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


def field_of_view(K: FloatArray, width: int, height: int) -> tuple[float, float]:
    """Horizontal and vertical full field of view (radians) of a centred camera ``K``."""
    return 2.0 * math.atan(width / (2.0 * K[0, 0])), 2.0 * math.atan(height / (2.0 * K[1, 1]))


def world_to_camera(matrix_world: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """``R`` [3, 3] and ``t`` [3] (OpenCV axes) from a Blender camera's 4x4 ``matrix_world``.

    Any scale in ``matrix_world`` is removed (Blender ignores camera scale when rendering).
    """
    matrix = np.asarray(matrix_world, dtype=np.float64)
    rotation = matrix[:3, :3] / np.linalg.norm(matrix[:3, :3], axis=0)
    location = matrix[:3, 3]
    R = BLENDER_TO_OPENCV_CAMERA @ rotation.T
    t = -R @ location
    return R, t


def project_points(points: npt.ArrayLike, K: FloatArray, R: FloatArray, t: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Project world points [N, 3] (metres) to pixels [N, 2] and camera depth [N] (metres, +forward).

    Points behind the camera (depth <= 0) get pixel coordinates too (mirrored by the
    division); callers decide visibility from ``depth``.
    """
    world = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    camera = world @ R.T + t
    depth = camera[:, 2]
    safe_depth = np.where(np.abs(depth) < 1e-12, 1e-12, depth)
    pixels = (camera[:, :2] / safe_depth[:, None]) * np.array([K[0, 0], K[1, 1]]) + np.array([K[0, 2], K[1, 2]])
    return pixels, depth


def camera_points(points: npt.ArrayLike, R: FloatArray, t: FloatArray) -> FloatArray:
    """World points [N, 3] in OpenCV camera coordinates [N, 3] (metres)."""
    return np.asarray(points, dtype=np.float64).reshape(-1, 3) @ R.T + t


def look_at(location: npt.ArrayLike, target: npt.ArrayLike, up: npt.ArrayLike = (0.0, 0.0, 1.0)) -> FloatArray:
    """Blender ``matrix_world`` [4, 4] of a camera at ``location`` looking at ``target`` with +Z up.

    Looking straight up or down falls back to +Y as the up hint.
    """
    eye = np.asarray(location, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - eye
    norm = np.linalg.norm(forward)
    if norm < 1e-12:
        raise ValueError("camera location and target coincide")
    forward /= norm
    up_hint = np.asarray(up, dtype=np.float64)
    if abs(float(np.dot(forward, up_hint))) > 0.999999:
        up_hint = np.array([0.0, 1.0, 0.0])
    right = np.cross(forward, up_hint)
    right /= np.linalg.norm(right)
    camera_up = np.cross(right, forward)
    matrix = np.eye(4)
    matrix[:3, 0] = right
    matrix[:3, 1] = camera_up
    matrix[:3, 2] = -forward
    matrix[:3, 3] = eye
    return matrix


def orbit_direction(azimuth_deg: float, elevation_deg: float) -> FloatArray:
    """Unit vector [3] from the character toward the camera (azimuth 0 = front = -Y, 90 = character's right = -X)."""
    azimuth = math.radians(azimuth_deg)
    elevation = math.radians(elevation_deg)
    return np.array([-math.sin(azimuth) * math.cos(elevation), -math.cos(azimuth) * math.cos(elevation), math.sin(elevation)])


def _elevation_suffix(elevation_deg: float) -> str:
    """``_el30``, ``_el-15``: no ``+``, which object keys do not allow (a queued job must be able to commit its views)."""
    return "" if elevation_deg == 0 else f"_el{elevation_deg:g}"


def orbit_views(angles: int, elevations_deg: tuple[float, ...] = defaults.ELEVATIONS_DEG) -> list[OrbitView]:
    """``angles`` evenly spaced azimuths starting at the front, for each elevation.

    Counts that divide eight (1, 2, 4, 8) land on the seed's 45 degree views and use its
    names (``front, front_right, right, ...``); other counts use ``az000, az030, ...``.
    Elevations other than 0 add ``_el30`` or ``_el-15`` suffixes.
    """
    if angles < 1:
        raise ValueError("at least one angle is needed")
    views = []
    for elevation in elevations_deg:
        for index in range(angles):
            azimuth = 360.0 * index / angles
            seed_views = len(defaults.VIEW_NAMES_8)
            base = defaults.VIEW_NAMES_8[index * seed_views // angles] if seed_views % angles == 0 else f"az{round(azimuth):03d}"
            views.append(OrbitView(base + _elevation_suffix(elevation), azimuth, float(elevation)))
    return views


def box_corners(box_min: npt.ArrayLike, box_max: npt.ArrayLike) -> FloatArray:
    """The 8 corners [8, 3] of an axis-aligned box."""
    low = np.asarray(box_min, dtype=np.float64)
    high = np.asarray(box_max, dtype=np.float64)
    return np.array([[(low, high)[i][0], (low, high)[j][1], (low, high)[k][2]] for i in (0, 1) for j in (0, 1) for k in (0, 1)])


def fit_distances(
    points: npt.ArrayLike,
    centre: npt.ArrayLike,
    views: list[OrbitView],
    fov_x: float,
    fov_y: float,
    padding: float = defaults.PADDING_FACTOR,
) -> FloatArray:
    """Camera distance [len(views)] (metres from ``centre``) at which every point [N, 3] fits each view.

    The seed formula ``distance = (extent / 2) / tan(fov / 2) * padding`` solved exactly per
    point: for each view (camera aimed at ``centre``) and each image axis, the camera must be
    far enough that the point's offset from ``centre``, scaled by ``padding``, stays within the
    half field of view. Pass the 8 :func:`box_corners` to fit a box, or the mesh vertices of
    every rendered frame to fit the body itself (tighter in diagonal views of wide poses). The
    body then fills about ``1 / padding`` of the tighter image dimension.
    """
    target = np.asarray(centre, dtype=np.float64)
    offsets = np.asarray(points, dtype=np.float64).reshape(-1, 3) - target
    tan_x = math.tan(fov_x / 2.0)
    tan_y = math.tan(fov_y / 2.0)
    distances = np.zeros(len(views))
    for index, view in enumerate(views):
        toward_camera = orbit_direction(view.azimuth_deg, view.elevation_deg)
        matrix = look_at(target + toward_camera, target)
        along = offsets @ toward_camera
        horizontal = np.abs(offsets @ matrix[:3, 0]) * padding / tan_x + along
        vertical = np.abs(offsets @ matrix[:3, 1]) * padding / tan_y + along
        distances[index] = max(float(horizontal.max(initial=0.0)), float(vertical.max(initial=0.0)))
    return distances


def orbit_camera_matrix(centre: npt.ArrayLike, distance: float, view: OrbitView) -> FloatArray:
    """Blender ``matrix_world`` of the orbit camera for ``view``, ``distance`` metres from ``centre``, aimed at it."""
    target = np.asarray(centre, dtype=np.float64)
    return look_at(target + distance * orbit_direction(view.azimuth_deg, view.elevation_deg), target)


def seed_camera_matrix(view: OrbitView) -> FloatArray:
    """The seed's fixed camera: ``SEED_CAMERA_DISTANCE_M`` from the origin at ``SEED_CAMERA_HEIGHT_M``, aimed at the origin.

    Elevation tilts the orbit direction; at elevation 0 this is exactly the seed's camera
    (which cuts off the heads of adult characters; it exists for comparison).
    """
    direction = orbit_direction(view.azimuth_deg, view.elevation_deg)
    location = direction * defaults.SEED_CAMERA_DISTANCE_M + np.array([0.0, 0.0, defaults.SEED_CAMERA_HEIGHT_M])
    return look_at(location, np.zeros(3))


def rolled(matrix_world: npt.ArrayLike, roll_deg: float) -> FloatArray:
    """A Blender camera ``matrix_world`` [4, 4] turned by ``roll_deg`` about its own view axis (positive: counter-clockwise
    in the image)."""
    angle = math.radians(roll_deg)
    turn = np.eye(4)
    turn[:2, :2] = [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
    return np.asarray(matrix_world, dtype=np.float64) @ turn
