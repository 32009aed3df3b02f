"""Label QA metrics on synthetic skeletons: what each number does when the labels are right, shifted, mirrored or mis-occluded."""

from __future__ import annotations

import numpy as np
import pytest

from pose_factory_addon.core import qa
from pose_factory_addon.core.skeletons import COCO17_NAMES, MEDIAPIPE33_NAMES, keypoint_set

BODY_PX = 200.0  # the synthetic person's body height in pixels


def _skeleton(center_x: float = 128.0, facing_camera: bool = True) -> np.ndarray:
    """``[33, 2]`` pixel positions of a person 200 px tall: the character's left at +x when it faces the camera."""
    side = 1.0 if facing_camera else -1.0
    points = np.zeros((33, 2))
    heights = {"eye": 30, "ear": 32, "mouth": 40, "shoulder": 60, "elbow": 95, "wrist": 125, "pinky": 135, "index": 137,
               "thumb": 132, "hip": 120, "knee": 170, "ankle": 215, "heel": 220, "foot_index": 222}  # fmt: skip
    spreads = {"eye": 6, "ear": 12, "mouth": 5, "shoulder": 30, "elbow": 36, "wrist": 40, "pinky": 42, "index": 41,
               "thumb": 38, "hip": 16, "knee": 17, "ankle": 18, "heel": 17, "foot_index": 22}  # fmt: skip
    for index, name in enumerate(MEDIAPIPE33_NAMES):
        if name == "nose":
            points[index] = (center_x, 35)
            continue
        sign = 1.0 if "left" in name else -1.0
        part = name.replace("left_", "").replace("right_", "").replace("_left", "").replace("_right", "")
        part = {"eye_inner": "eye", "eye_outer": "eye"}.get(part, part)
        extra = {"eye_inner": -3, "eye_outer": 3}.get(name.split("_", 1)[1] if name.startswith(("left", "right")) else "", 0)
        points[index] = (center_x + side * sign * (spreads[part] + extra), heights[part])
    return points


def _ours(points: np.ndarray, visibility: np.ndarray | None = None) -> np.ndarray:
    v = np.full(len(points), 2.0) if visibility is None else visibility.astype(float)
    return np.column_stack([points, v])


def _theirs(points: np.ndarray, visibility: np.ndarray | None = None) -> np.ndarray:
    scores = np.ones(len(points)) if visibility is None else visibility
    return np.column_stack([points, np.zeros(len(points)), scores, np.zeros(len(points))])


def _record(comparison: qa.ImageComparison, view: str = "front", azimuth: float = 0.0) -> qa.ImageQA:
    return qa.ImageQA(f"c/{view}.png", view, azimuth, "height_m", comparison)


VIEWS = (("front", 0.0), ("front_right", 45.0), ("right", 90.0), ("back", 180.0), ("left", 270.0), ("front_left", 315.0))


def _dataset(ours_of, theirs_of=None) -> dict:
    """Summary of six views; ``ours_of(points)`` / ``theirs_of(points)`` turn the true skeleton into the labels / detection."""
    records = []
    for view, azimuth in VIEWS:
        truth = _skeleton(facing_camera=not 90 < azimuth < 270)
        theirs = theirs_of(truth) if theirs_of else _theirs(truth)
        records.append(_record(qa.compare_image(ours_of(truth), theirs, BODY_PX, "mediapipe33"), view, azimuth))
    return qa.summarize(records, "mediapipe33")


def test_perfect_labels_have_zero_error_and_no_flags() -> None:
    summary = _dataset(_ours)
    assert summary["detection_rate"] == 1.0
    assert summary["body_error"] == {"median": 0.0, "p90": 0.0, "images": 6}
    assert summary["face_error"]["median"] == 0.0
    assert summary["offset"]["norm"] == 0.0
    assert summary["swap"]["suspects"] == 0
    assert summary["visibility"]["agreement"] == 1.0
    assert set(summary["landmark_median_error"].values()) == {0.0}
    assert summary["flags"] == []
    assert qa.summary_lines(summary)[-1] == "no flags"


def test_a_ten_pixel_shift_is_an_offset_and_an_error_flag() -> None:
    summary = _dataset(lambda truth: _ours(truth + np.array([10.0, 0.0])))
    assert summary["body_error"]["median"] == pytest.approx(10 / BODY_PX)
    assert summary["offset"]["mean"] == pytest.approx([10 / BODY_PX, 0.0])
    assert summary["offset"]["mean_px"] == pytest.approx([10.0, 0.0])
    assert summary["offset"]["std"] == pytest.approx([0.0, 0.0])
    assert [flag.split(" ")[0:2] for flag in summary["flags"]] == [["median", "body"], ["systematic", "offset"]]
    assert "+10.0 px" in summary["flags"][1]


def test_a_shift_below_the_thresholds_is_not_flagged() -> None:
    summary = _dataset(lambda truth: _ours(truth + np.array([0.0, 1.5])))
    assert summary["offset"]["mean"][1] == pytest.approx(1.5 / BODY_PX)
    assert summary["flags"] == []


def test_random_noise_has_no_systematic_offset() -> None:
    rng = np.random.default_rng(3)
    summary = _dataset(lambda truth: _ours(truth + rng.normal(0, 3, truth.shape)))
    assert summary["offset"]["norm"] < qa.MAX_MEAN_OFFSET
    assert 0.005 < summary["body_error"]["median"] < qa.MAX_MEDIAN_BODY_ERROR
    assert summary["flags"] == []


def test_swapped_left_and_right_labels_are_swap_suspects() -> None:
    permutation = list(qa.swap_permutation(keypoint_set("mediapipe33")))
    summary = _dataset(lambda truth: _ours(truth[permutation]))
    assert summary["swap"]["non_side_images"] == 4 and summary["swap"]["non_side_suspects"] == 4
    assert {view: entry["swap_suspects"] for view, entry in summary["views"].items()} == {
        "front": 1, "front_right": 1, "right": 1, "back": 1, "left": 1, "front_left": 1
    }  # fmt: skip
    assert any(flag.startswith("left/right swap suspected in 4 of 4 non-side views") for flag in summary["flags"])


def test_a_swap_in_side_views_only_is_not_flagged() -> None:
    permutation = list(qa.swap_permutation(keypoint_set("mediapipe33")))
    records = []
    for view, azimuth in VIEWS:
        truth = _skeleton()
        ours = _ours(truth[permutation] if view in ("left", "right") else truth)
        records.append(_record(qa.compare_image(ours, _theirs(truth), BODY_PX, "mediapipe33"), view, azimuth))
    summary = qa.summarize(records, "mediapipe33")
    assert summary["swap"]["suspects"] == 2 and summary["swap"]["non_side_suspects"] == 0
    assert not any("swap" in flag for flag in summary["flags"])


def test_inverted_visibility_disagrees_with_the_detector() -> None:
    occluded = np.zeros(33, dtype=bool)
    occluded[[2, 8, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32]] = True  # the far (right) side of a side view
    ours_v = np.where(occluded, 1, 2)
    scores = np.where(occluded, 0.1, 0.95)
    right = _dataset(lambda truth: _ours(truth, ours_v), lambda truth: _theirs(truth, scores))
    assert right["visibility"]["agreement"] == 1.0 and right["flags"] == []
    inverted = _dataset(lambda truth: _ours(truth, 3 - ours_v), lambda truth: _theirs(truth, scores))
    assert inverted["visibility"]["agreement"] == 0.0
    counts = inverted["visibility"]["counts"]
    assert counts["ours_visible_mediapipe_hidden"] == 6 * 13 and counts["ours_hidden_mediapipe_visible"] == 6 * 20
    assert any(flag.startswith("visibility agreement 0% < 50%") for flag in inverted["flags"])


def test_keypoints_outside_the_image_do_not_count() -> None:
    truth = _skeleton()
    visibility = np.full(33, 2)
    visibility[27:] = 0  # feet cut off by the frame
    shifted = truth.copy()
    shifted[27:] += 80  # wherever the labels put them, they are not compared
    comparison = qa.compare_image(_ours(shifted, visibility), _theirs(truth), BODY_PX, "mediapipe33")
    assert comparison.body_error == 0.0
    assert np.isnan(comparison.landmark_errors[27:]).all()
    assert sum(comparison.visibility) == 27


def test_undetected_images_lower_the_detection_rate_only() -> None:
    records = [_record(qa.compare_image(_ours(_skeleton()), _theirs(_skeleton()), BODY_PX, "mediapipe33"))] * 8
    records += [_record(qa.compare_image(_ours(_skeleton()), None, BODY_PX, "mediapipe33"), "right", 90.0)] * 2
    summary = qa.summarize(records, "mediapipe33")
    assert summary["detection_rate"] == 0.8 and summary["detected"] == 8
    assert summary["views"]["right"] == {
        "images": 2, "detected": 0, "side": True, "swap_suspects": 0, "detection_rate": 0.0, "median_body_error": None
    }  # fmt: skip
    assert summary["flags"] == ["detection rate 80% < 90%: MediaPipe finds no person in 2 of 10 images"]


def test_nothing_detected_gives_no_numbers_and_one_flag() -> None:
    records = [_record(qa.compare_image(_ours(_skeleton()), None, BODY_PX, "mediapipe33"))]
    summary = qa.summarize(records, "mediapipe33")
    assert summary["body_error"]["median"] is None and summary["visibility"]["agreement"] is None
    assert summary["offset"]["mean"] is None and len(summary["flags"]) == 1
    assert "n/a" in qa.summary_lines(summary)[1]


def test_coco17_labels_compare_with_the_same_landmarks_of_mediapipe() -> None:
    truth = _skeleton()
    coco_truth = truth[list(keypoint_set("coco17").mediapipe_indices)]
    theirs = qa.detector_in_set(_theirs(truth), "coco17")
    assert theirs.shape == (17, 5)
    assert np.array_equal(theirs[COCO17_NAMES.index("left_wrist"), :2], truth[MEDIAPIPE33_NAMES.index("left_wrist")])
    comparison = qa.compare_image(_ours(coco_truth + np.array([0.0, 8.0])), theirs, BODY_PX, "coco17")
    assert comparison.body_error == pytest.approx(0.04) and comparison.face_error == pytest.approx(0.04)
    permutation = list(qa.swap_permutation(keypoint_set("coco17")))
    assert qa.compare_image(_ours(coco_truth[permutation]), theirs, BODY_PX, "coco17").swap_suspect


def test_face_and_body_are_separate() -> None:
    truth = _skeleton()
    ours = truth.copy()
    ours[:11] += [0.0, 20.0]  # only the face is off
    comparison = qa.compare_image(_ours(ours), _theirs(truth), BODY_PX, "mediapipe33")
    assert comparison.face_error == pytest.approx(0.1) and comparison.body_error == 0.0
    assert qa.face_mask("coco17").tolist() == [True] * 5 + [False] * 12


def test_swap_permutation_pairs_every_side() -> None:
    permutation = qa.swap_permutation(keypoint_set("mediapipe33"))
    names = MEDIAPIPE33_NAMES
    assert names[permutation[names.index("left_eye_inner")]] == "right_eye_inner"
    assert names[permutation[names.index("mouth_left")]] == "mouth_right"
    assert permutation[names.index("nose")] == names.index("nose")
    assert [permutation[i] for i in permutation] == list(range(33))
    assert sum(i != j for i, j in enumerate(permutation)) == 32


def _label(height_m_depth: float = 4.0, bbox_height: float = 180.0) -> dict:
    points_3d = [[0.0, 0.0, 5.0]] * 33
    points_3d[23] = [0.1, 0.0, height_m_depth - 0.1]
    points_3d[24] = [-0.1, 0.0, height_m_depth + 0.1]
    coco_3d = [points_3d[i] for i in keypoint_set("coco17").mediapipe_indices]
    return {
        "camera": {"K": [[480.0, 0.0, 128.0], [0.0, 500.0, 128.0], [0.0, 0.0, 1.0]]},
        "bbox": [10.0, 20.0, 60.0, bbox_height],
        "keypoints_3d": {"mediapipe33": points_3d, "coco17": coco_3d},
    }


def test_body_height_from_the_character_height_and_the_hip_depth() -> None:
    assert qa.body_height_px(_label(), "mediapipe33", 1.6) == (pytest.approx(500 * 1.6 / 4.0), "height_m")
    assert qa.body_height_px(_label(), "coco17", 1.6) == (pytest.approx(200.0), "height_m")
    assert qa.body_height_px(_label(height_m_depth=8.0), "mediapipe33", 1.6)[0] == pytest.approx(100.0)


def test_body_height_falls_back_to_the_box_without_height_m() -> None:
    assert qa.body_height_px(_label(), "mediapipe33", None) == (180.0, "bbox")
    label = _label()
    del label["keypoints_3d"]
    assert qa.body_height_px(label, "mediapipe33", 1.7) == (180.0, "bbox")


def test_errors_are_in_body_heights() -> None:
    truth = _skeleton()
    for height in (100.0, 400.0):
        comparison = qa.compare_image(_ours(truth + np.array([0.0, 4.0])), _theirs(truth), height, "mediapipe33")
        assert comparison.body_error == pytest.approx(4.0 / height)
        assert comparison.offset_px == pytest.approx((0.0, 4.0))


def test_side_views() -> None:
    assert [qa.is_side_view(a) for a in (0, 45, 70, 90, 110, 180, 270, 300, -90, 450)] == [
        False, False, True, True, True, False, True, False, True, True
    ]  # fmt: skip


def test_label_set_to_compare_prefers_mediapipe33() -> None:
    assert qa.label_set_to_compare(["coco17", "mediapipe33"]) == "mediapipe33"
    assert qa.label_set_to_compare(["coco17"]) == "coco17"
    with pytest.raises(ValueError, match="no mediapipe33 or coco17"):
        qa.label_set_to_compare([])


def test_the_summary_is_json_ready_and_names_every_threshold() -> None:
    import json

    summary = _dataset(lambda truth: _ours(truth + np.array([10.0, 0.0])))
    assert json.loads(json.dumps(summary)) == summary
    assert summary["thresholds"]["max_median_body_error"] == qa.MAX_MEDIAN_BODY_ERROR
    assert f"> {qa.MAX_MEDIAN_BODY_ERROR}" in summary["flags"][0]


def test_every_threshold_is_explained() -> None:
    assert qa.THRESHOLD_NOTES.keys() == qa.THRESHOLDS.keys()


def test_a_failed_detection_does_not_accuse_correct_labels() -> None:
    """MediaPipe sometimes folds a back view into a mirrored, badly placed skeleton: swapped labels then fit it
    less badly than correct ones, but not well (here 16 px = 0.08 body heights off), so the image is no swap suspect."""
    truth = _skeleton(facing_camera=False)
    permutation = list(qa.swap_permutation(keypoint_set("mediapipe33")))
    angles = np.arange(33) * 2.4
    failed = truth[permutation] + 16.0 * np.column_stack([np.cos(angles), np.sin(angles)])
    comparison = qa.compare_image(_ours(truth), _theirs(failed), BODY_PX, "mediapipe33")
    assert comparison.swapped_body_error < qa.SWAP_ERROR_RATIO * comparison.body_error
    assert comparison.swapped_body_error > qa.SWAP_MAX_FIT and not comparison.swap_suspect
