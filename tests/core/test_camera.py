"""Camera maths on known cameras: intrinsics, extrinsics, projection, orbit placement."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pose_factory_addon.core import camera, defaults
from pose_factory_addon.core.store import is_valid_key


def _square_k(size: int = 512, fov_deg: float = 50.0) -> np.ndarray:
    sensor = 36.0
    lens = sensor / 2 / math.tan(math.radians(fov_deg) / 2)
    return camera.intrinsics(lens, sensor, 24.0, "AUTO", size, size)


def test_square_intrinsics_match_the_field_of_view():
    K = _square_k()
    fov_x, fov_y = camera.field_of_view(K, 512, 512)
    assert math.degrees(fov_x) == pytest.approx(50.0)
    assert math.degrees(fov_y) == pytest.approx(50.0)
    assert K[0, 2] == 256 and K[1, 2] == 256


def test_sensor_fit_auto_uses_the_larger_dimension():
    wide = camera.intrinsics(50.0, 36.0, 24.0, "AUTO", 800, 400)
    tall = camera.intrinsics(50.0, 36.0, 24.0, "AUTO", 400, 800)
    assert wide[0, 0] == pytest.approx(50.0 / 36.0 * 800)
    assert tall[1, 1] == pytest.approx(50.0 / 36.0 * 800)
    vertical = camera.intrinsics(50.0, 36.0, 24.0, "VERTICAL", 800, 400)
    assert vertical[1, 1] == pytest.approx(50.0 / 24.0 * 400)
    with pytest.raises(ValueError):
        camera.intrinsics(50.0, 36.0, 24.0, "DIAGONAL", 10, 10)


def test_shift_moves_the_principal_point():
    K = camera.intrinsics(50.0, 36.0, 24.0, "AUTO", 200, 100, shift_x=0.1, shift_y=0.1)
    assert K[0, 2] == pytest.approx(100 - 20)
    assert K[1, 2] == pytest.approx(50 + 20)


def test_point_straight_ahead_projects_to_the_principal_point():
    matrix = camera.look_at([0, -3, 1], [0, 0, 1])
    R, t = camera.world_to_camera(matrix)
    K = _square_k()
    pixels, depth = camera.project_points([[0, 0, 1], [0, 5, 1]], K, R, t)
    np.testing.assert_allclose(pixels, [[256, 256], [256, 256]], atol=1e-9)
    np.testing.assert_allclose(depth, [3, 8])


def test_axes_up_is_image_up_and_world_x_is_image_right_from_the_front():
    R, t = camera.world_to_camera(camera.look_at([0, -3, 1], [0, 0, 1]))
    K = _square_k()
    pixels, _ = camera.project_points([[0.5, 0, 1], [0, 0, 1.5]], K, R, t)
    assert pixels[0, 0] > 256  # +X (character's left) is on the image's right in the front view
    assert pixels[1, 1] < 256  # +Z is up, image y grows downward


def test_world_to_camera_is_orthonormal_and_ignores_scale():
    matrix = camera.look_at([1, -2, 3], [0, 0, 1])
    scaled = matrix.copy()
    scaled[:3, :3] *= 0.01
    R, t = camera.world_to_camera(scaled)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(R @ np.array([1, -2, 3]) + t, 0, atol=1e-12)


def test_points_behind_the_camera_have_negative_depth():
    R, t = camera.world_to_camera(camera.look_at([0, -3, 0], [0, 0, 0]))
    _, depth = camera.project_points([[0, -5, 0]], _square_k(), R, t)
    assert depth[0] < 0


def test_orbit_direction_conventions():
    np.testing.assert_allclose(camera.orbit_direction(0, 0), [0, -1, 0], atol=1e-12)
    np.testing.assert_allclose(camera.orbit_direction(90, 0), [-1, 0, 0], atol=1e-12)  # character's right
    np.testing.assert_allclose(camera.orbit_direction(180, 0), [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(camera.orbit_direction(0, 90), [0, 0, 1], atol=1e-12)


def test_right_view_shows_the_characters_right_side():
    view = camera.orbit_views(8)[2]
    assert view.name == "right"
    R, t = camera.world_to_camera(camera.orbit_camera_matrix([0, 0, 1], 3.0, view))
    _, depth = camera.project_points([[-0.2, 0, 1], [0.2, 0, 1]], _square_k(), R, t)
    assert depth[0] < depth[1]  # the right shoulder (-X) is nearer the camera


def test_view_names():
    names = [view.name for view in camera.orbit_views(8)]
    assert names == list(defaults.VIEW_NAMES_8)
    assert [view.name for view in camera.orbit_views(4)] == ["front", "right", "back", "left"]
    assert [view.name for view in camera.orbit_views(1)] == ["front"]
    assert [view.name for view in camera.orbit_views(3)] == ["az000", "az120", "az240"]
    assert [view.name for view in camera.orbit_views(2, (0.0, 30.0, -15.0))] == [
        "front",
        "back",
        "front_el30",
        "back_el30",
        "front_el-15",
        "back_el-15",
    ]
    assert camera.orbit_views(8)[1].azimuth_deg == 45.0
    with pytest.raises(ValueError):
        camera.orbit_views(0)


def test_view_names_are_valid_object_keys() -> None:
    """A queued job uploads ``<character>/<view>.png``: every view name must pass the store's key check."""
    views = camera.orbit_views(72, (0.0, 89.0, -89.0, 12.5, -0.5))
    assert all(is_valid_key(f"results/job/X_Bot/{view.name}_f0001.png") for view in views)
    assert {view.name for view in views} >= {"az000_el89", "az000_el-89", "az000_el12.5"}


@pytest.mark.parametrize("elevations", [(0.0,), (0.0, 30.0, -20.0, 60.0)])
def test_fit_distance_keeps_every_corner_inside_every_view(elevations):
    box_min, box_max = np.array([-0.9, -0.3, 0.0]), np.array([0.9, 0.4, 1.8])
    views = camera.orbit_views(12, elevations)
    K = _square_k(256)
    fov_x, fov_y = camera.field_of_view(K, 256, 256)
    centre = (box_min + box_max) / 2
    corners = camera.box_corners(box_min, box_max)
    distances = camera.fit_distances(corners, centre, views, fov_x, fov_y, padding=1.2)
    for view, distance in zip(views, distances, strict=True):
        R, t = camera.world_to_camera(camera.orbit_camera_matrix(centre, distance, view))
        pixels, depth = camera.project_points(corners, K, R, t)
        assert np.all(depth > 0)
        offset = np.abs(pixels - 128).max()
        assert offset == pytest.approx(128 / 1.2, rel=1e-6)  # inside, and exact: not wasteful


def test_standing_body_fills_most_of_the_frame_height():
    views = camera.orbit_views(8)
    K = _square_k(512)
    fov = camera.field_of_view(K, 512, 512)
    box_min, box_max = np.array([-0.25, -0.15, 0.0]), np.array([0.25, 0.15, 1.8])
    centre = (box_min + box_max) / 2
    distance = camera.fit_distances(camera.box_corners(box_min, box_max), centre, views, *fov).max()
    R, t = camera.world_to_camera(camera.orbit_camera_matrix(centre, distance, views[0]))
    pixels, _ = camera.project_points([[0, 0, 0], [0, 0, 1.8]], K, R, t)
    assert abs(pixels[0, 1] - pixels[1, 1]) > 0.7 * 512


def test_seed_camera_is_the_seeds_fixed_camera():
    front = camera.orbit_views(8)[0]
    matrix = camera.seed_camera_matrix(front)
    np.testing.assert_allclose(matrix[:3, 3], [0, -3.5, 1.6], atol=1e-12)
    R, t = camera.world_to_camera(matrix)
    pixels, _ = camera.project_points([[0, 0, 0]], _square_k(), R, t)
    np.testing.assert_allclose(pixels[0], [256, 256], atol=1e-9)


def test_look_at_straight_down_still_works():
    matrix = camera.look_at([0, 0, 5], [0, 0, 0])
    np.testing.assert_allclose(matrix[:3, 2], [0, 0, 1], atol=1e-12)
    with pytest.raises(ValueError):
        camera.look_at([1, 1, 1], [1, 1, 1])
