"""Visibility rules, bounding boxes and the per-image label record."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pose_factory_addon.core import camera, labels
from pose_factory_addon.core.skeletons import COCO17_NAMES, MEDIAPIPE33_NAMES


def test_inside_image_edges_and_behind_camera():
    pixels = np.array([[0, 0], [99.99, 49.99], [100, 10], [-0.01, 10], [10, 50], [10, 10]])
    depth = np.array([1, 1, 1, 1, 1, -1.0])
    assert labels.inside_image(pixels, depth, 100, 50).tolist() == [True, True, False, False, False, False]


def test_visibility_codes():
    codes = labels.visibility_codes([True, True, False, False], [False, True, False, True])
    assert codes.tolist() == [2, 1, 0, 0]
    visibility, presence = labels.mediapipe_scores(codes)
    assert visibility.tolist() == [1, 0, 0, 0]
    assert presence.tolist() == [1, 1, 0, 0]


def test_bbox_is_tight_and_clipped():
    pixels = np.array([[10, 20], [30, 60], [-5, 40], [50, 50]])
    depth = np.array([1, 1, 1, -1.0])
    assert labels.pixel_bbox(pixels, depth, 100, 100) == [0.0, 20.0, 30.0, 40.0]
    assert labels.pixel_bbox(pixels, -depth, 100, 100) == [0.0, 0.0, 0.0, 0.0]


def test_image_label_shape_and_values():
    view = camera.orbit_views(8)[0]
    matrix = camera.look_at([0, -3, 1], [0, 0, 1])
    R, t = camera.world_to_camera(matrix)
    lens = 18 / math.tan(math.radians(25))
    K = camera.intrinsics(lens, 36, 24, "AUTO", 200, 200)
    world = np.zeros((33, 3))
    world[:, 2] = 1.0
    world[MEDIAPIPE33_NAMES.index("left_shoulder")] = [0.2, 0, 1.4]
    world[MEDIAPIPE33_NAMES.index("right_shoulder")] = [-0.2, 0, 1.4]
    world[MEDIAPIPE33_NAMES.index("left_ankle")] = [0, 0, -5]
    occluded = np.zeros(33, dtype=bool)
    occluded[0] = True
    label = labels.image_label(
        image="X_Bot/front.png",
        character="X_Bot",
        view=view,
        frame=1,
        width=200,
        height=200,
        K=K,
        R=R,
        t=t,
        matrix_world=matrix,
        landmarks_world=world,
        occluded=occluded,
        bbox=[1.0, 2.0, 3.0, 4.0],
    )
    assert list(label) == [
        "image", "width", "height", "character", "view", "azimuth_deg", "elevation_deg", "frame",
        "camera", "bbox", "keypoints", "keypoints_3d",
    ]  # fmt: skip
    assert list(label["camera"]) == ["K", "R", "t", "matrix_world"]
    assert len(label["keypoints"]["mediapipe33"]) == 33 and len(label["keypoints"]["coco17"]) == 17
    coco = dict(zip(COCO17_NAMES, label["keypoints"]["coco17"], strict=True))
    assert coco["nose"][2] == 1
    assert coco["left_shoulder"][0] > 100 > coco["right_shoulder"][0]
    assert coco["left_shoulder"][2] == 2
    assert coco["left_ankle"][2] == 0
    assert label["keypoints_3d"]["coco17"][0] == pytest.approx([0, 0, 3])
    json.dumps(label)
    only_coco = labels.image_label(
        image="a.png", character="a", view=view, frame=2, width=200, height=200, K=K, R=R, t=t,
        matrix_world=matrix, landmarks_world=world, occluded=occluded, bbox=[0, 0, 0, 0], label_sets=("coco17",),
    )  # fmt: skip
    assert list(only_coco["keypoints"]) == ["coco17"]
    with pytest.raises(ValueError):
        labels.image_label(
            image="a.png", character="a", view=view, frame=2, width=200, height=200, K=K, R=R, t=t,
            matrix_world=matrix, landmarks_world=world[:5], occluded=occluded, bbox=[0, 0, 0, 0],
        )  # fmt: skip
