"""Auto framing that follows the root's ground motion, on synthetic bodies with known cameras."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pose_factory_addon.core import camera
from pose_factory_addon.core.framing import ground_offset, track_body

SIZE = 256
LENS_MM = 36.0 / 2 / math.tan(math.radians(50.0) / 2)
K = camera.intrinsics(LENS_MM, 36.0, 24.0, "AUTO", SIZE, SIZE)
FOV = camera.field_of_view(K, SIZE, SIZE)
# a standing "body": the corners of a 0.5 x 0.3 x 1.8 m box on the ground, its root (hips) at 1 m
BODY = camera.box_corners([-0.25, -0.15, 0.0], [0.25, 0.15, 1.8])
HIPS = np.array([0.0, 0.0, 1.0])


def _walk(travel_m: float, frames: int, bob_m: float = 0.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The body carried along -Y by ``travel_m`` over ``frames`` frames, bobbing up and down by ``bob_m``."""
    posed = []
    for index in range(frames):
        shift = np.array([0.02 * math.sin(index), -travel_m * index / max(frames - 1, 1), bob_m * (index % 2)])
        posed.append((BODY + shift, HIPS + shift))
    return posed


def _images(posed: list[tuple[np.ndarray, np.ndarray]], views: list[camera.OrbitView]):
    track = track_body(lambda index: posed[index], len(posed), views, *FOV, padding=1.2)
    for index, (vertices, _) in enumerate(posed):
        for view, distance in zip(views, track.distances, strict=True):
            R, t = camera.world_to_camera(camera.orbit_camera_matrix(track.target(index), float(distance), view))
            yield track, camera.project_points(vertices, K, R, t)


def test_ground_offset_keeps_only_the_horizontal_part():
    np.testing.assert_array_equal(ground_offset([1.5, -2.0, 0.9]), [1.5, -2.0, 0.0])


def test_root_motion_is_framed_like_the_same_body_in_place():
    views = camera.orbit_views(8)
    moving = track_body(lambda index: _walk(3.0, 5)[index], 5, views, *FOV)
    in_place = track_body(lambda index: _walk(0.0, 5)[index], 5, views, *FOV)
    np.testing.assert_allclose(moving.distances, in_place.distances, atol=1e-9)
    np.testing.assert_allclose(moving.low, in_place.low, atol=1e-9)
    assert moving.offsets[-1, 1] == pytest.approx(-3.0)
    assert moving.target(4)[1] - moving.target(0)[1] == pytest.approx(-3.0)


@pytest.mark.parametrize("elevations", [(0.0,), (0.0, 30.0, -20.0)])
def test_walking_body_is_centred_and_fills_every_view_and_frame(elevations):
    views = camera.orbit_views(8, elevations)
    for _, (pixels, depth) in _images(_walk(3.0, 6, bob_m=0.1), views):
        assert np.all(depth > 0)
        assert np.all((pixels >= 0) & (pixels < SIZE))
        low, high = pixels.min(axis=0), pixels.max(axis=0)
        assert max(high - low) > 0.6 * SIZE, "the body should fill most of the frame"
        assert np.all(np.abs((low + high) / 2 - SIZE / 2) < 0.15 * SIZE), "the body should stay near the centre"


def test_in_place_body_keeps_the_fixed_aim_framing():
    views = camera.orbit_views(4)
    track = track_body(lambda index: (BODY, HIPS), 3, views, *FOV)
    centre = (BODY.min(axis=0) + BODY.max(axis=0)) / 2
    np.testing.assert_allclose(track.centre, centre)
    np.testing.assert_allclose(track.distances, camera.fit_distances(BODY, centre, views, *FOV))
    for index in range(3):
        np.testing.assert_allclose(track.target(index), centre)


def test_frames_without_vertices_cannot_be_framed():
    with pytest.raises(ValueError, match="no vertices"):
        track_body(lambda index: (np.empty((0, 3)), HIPS), 2, camera.orbit_views(1), *FOV)
