"""Visibility, face landmarks and frame choice on characters built like real rigs (real bpy, small renders).

The characters reproduce what broke the first labels on real Mixamo downloads: a robot made of
an outer shell over small inner joint spheres (the X Bot family), a mannequin under loose
clothes, a modelled face with eye bones, static poses where a person would call a joint
hidden, and a looping clip whose last frame repeats its first.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from pose_factory_addon.core.camera import project_points  # noqa: E402
from pose_factory_addon.core.face_landmarks import FACE_LANDMARKS  # noqa: E402
from pose_factory_addon.core.manifest import CharacterRef, RenderParams  # noqa: E402
from pose_factory_addon.core.sample_rig import skeleton  # noqa: E402
from pose_factory_addon.core.skeletons import COCO17_NAMES, MEDIAPIPE33_NAMES  # noqa: E402
from pose_factory_addon.render.importer import import_character  # noqa: E402
from pose_factory_addon.render.keypoints import LandmarkReader  # noqa: E402
from pose_factory_addon.render.pipeline import render_dataset  # noqa: E402
from pose_factory_addon.render.sample_characters import export_sample_character  # noqa: E402

pytestmark = pytest.mark.bpy

SIZE = 128
BODY_JOINTS = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
# name: (file, shape, motion, export options)
CHARACTERS = {
    "robot_tpose": ("Robot_TPose.fbx", "average", "tpose", {"variant": "robot"}),
    "robot_walk": ("Robot_Walk.glb", "average", "walk", {"variant": "robot"}),
    "clothed_walk": ("Clothed_Walk.fbx", "average", "walk", {"variant": "clothed"}),
    "face": ("Face_Still.fbx", "average", "still", {"eye_bones": True}),
    "behind_back": ("Robot_HandBehindBack.fbx", "average", "hand_behind_back", {"variant": "robot"}),
    "crossed": ("Robot_CrossedArms.glb", "average", "crossed_arms", {"variant": "robot"}),
    "pointing": ("Robot_PointForward.fbx", "average", "point_forward", {"variant": "robot"}),
    "loop": ("Loop_Walk.fbx", "average", "walk", {"closed_loop": True}),
}


def _ref(name: str, path: Path) -> CharacterRef:
    return CharacterRef(name, hashlib.sha256(path.read_bytes()).hexdigest(), path.suffix[1:])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("characters")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return {
        name: export_sample_character(folder / file_name, shape, motion, **options)
        for name, (file_name, shape, motion, options) in CHARACTERS.items()
    }


@pytest.fixture(scope="module")
def dataset(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("visibility")
    names = [name for name in CHARACTERS if name != "loop"]
    params = RenderParams(
        characters=tuple(_ref(name, files[name]) for name in names),
        angles=8,
        frames="1",
        preset="preview",
        resolution=(SIZE, SIZE),
    )
    summary = render_dataset(params, {name: files[name] for name in names}, out, transparent=True)
    assert summary["failures"] == []
    return out, summary


def _label(out: Path, character: str, view: str) -> dict:
    return json.loads((out / character / f"{view}.json").read_text())


def _visibility(label: dict, name: str) -> int:
    return int(label["keypoints"]["mediapipe33"][MEDIAPIPE33_NAMES.index(name)][2])


def _body_joints(side: str = "") -> list[str]:
    sides = (side,) if side else ("left", "right")
    return [f"{s}_{joint}" for s in sides for joint in BODY_JOINTS]


@pytest.mark.parametrize("view", ["front", "back"])
@pytest.mark.parametrize("character", ["robot_tpose", "robot_walk", "clothed_walk"])
def test_joints_under_a_shell_or_clothes_are_visible_from_front_and_back(dataset, character, view):
    out, _ = dataset
    label = _label(out, character, view)
    visible = [name for name in _body_joints() if _visibility(label, name) == 2]
    assert len(visible) >= 11, f"{character} {view}: only {visible} of the 12 COCO body joints are visible"


@pytest.mark.parametrize(("view", "near", "far"), [("left", "left", "right"), ("right", "right", "left")])
def test_side_view_of_the_tpose_sees_the_near_leg_and_hides_the_far_side(dataset, view, near, far):
    out, _ = dataset
    label = _label(out, "robot_tpose", view)
    for joint in ("hip", "knee", "ankle"):
        assert _visibility(label, f"{near}_{joint}") == 2, f"near {joint}"
    for joint in ("hip", "knee", "ankle", "wrist"):
        assert _visibility(label, f"{far}_{joint}") == 1, f"far {joint}"


def test_the_nose_is_hidden_from_the_back(dataset):
    out, _ = dataset
    for character in ("robot_tpose", "face", "clothed_walk"):
        assert _visibility(_label(out, character, "back"), "nose") == 1, character
        assert _visibility(_label(out, character, "front"), "nose") == 2, character


def test_a_hand_behind_the_back_is_hidden_from_the_front_only(dataset):
    out, _ = dataset
    assert _visibility(_label(out, "behind_back", "front"), "right_wrist") == 1
    assert _visibility(_label(out, "behind_back", "back"), "right_wrist") == 2
    assert _visibility(_label(out, "behind_back", "front"), "left_wrist") == 2


def test_crossed_arms_hide_the_wrists_from_the_back(dataset):
    out, _ = dataset
    front, back = _label(out, "crossed", "front"), _label(out, "crossed", "back")
    for side in ("left", "right"):
        assert _visibility(front, f"{side}_wrist") == 2 and _visibility(front, f"{side}_elbow") == 2
        assert _visibility(back, f"{side}_wrist") == 1


def test_an_arm_pointing_at_the_camera_hides_its_own_elbow_and_shoulder(dataset):
    out, _ = dataset
    front = _label(out, "pointing", "front")
    assert _visibility(front, "right_elbow") == 1 and _visibility(front, "right_shoulder") == 1
    assert _visibility(front, "left_elbow") == 2 and _visibility(front, "left_shoulder") == 2


def test_a_face_turned_away_hides_nose_and_mouth(dataset):
    out, _ = dataset
    for view in ("back_right", "back_left", "back"):
        label = _label(out, "face", view)
        for name in ("nose", "mouth_left", "mouth_right"):
            assert _visibility(label, name) == 1, f"{view} {name}"


def test_face_points_sit_on_the_face_in_a_front_view(dataset):
    out, _ = dataset
    for character in ("face", "robot_tpose", "clothed_walk"):
        label = _label(out, character, "front")
        point = {name: np.array(label["keypoints"]["mediapipe33"][MEDIAPIPE33_NAMES.index(name)][:2]) for name in FACE_LANDMARKS}
        assert point["left_eye"][0] > point["nose"][0] > point["right_eye"][0], "the character's left eye is on the image's right"
        assert point["left_eye_outer"][0] > point["left_eye"][0] > point["left_eye_inner"][0] > point["nose"][0]
        assert point["right_eye_outer"][0] < point["right_eye"][0] < point["right_eye_inner"][0] < point["nose"][0]
        eye_line = (point["left_eye"][1] + point["right_eye"][1]) / 2
        mouth_line = (point["mouth_left"][1] + point["mouth_right"][1]) / 2
        assert eye_line < point["nose"][1] < mouth_line, "nose between the eyes and the mouth (image y grows down)"
        assert point["left_ear"][0] > point["left_eye_outer"][0] and point["right_ear"][0] < point["right_eye_outer"][0]
        head_top = label["bbox"][1]
        crown_to_mouth = mouth_line - head_top
        assert 0.4 * crown_to_mouth < eye_line - head_top < 0.75 * crown_to_mouth, f"{character}: eyes halfway down the head"


def test_eye_bones_place_the_eyes(dataset, files):
    out, _ = dataset
    label = _label(out, "face", "front")
    camera = label["camera"]
    K, R, t = (np.array(camera[key]) for key in ("K", "R", "t"))
    bones = skeleton("average", eye_bones=True)
    for side in ("left", "right"):
        eye_bone = np.array(bones[f"{side.capitalize()}Eye"].head)
        expected, _ = project_points(eye_bone[None], K, R, t)
        actual = np.array(label["keypoints"]["mediapipe33"][MEDIAPIPE33_NAMES.index(f"{side}_eye")][:2])
        assert np.linalg.norm(actual - expected[0]) < 0.015 * SIZE, side


@pytest.mark.parametrize("character", ["face", "robot_tpose", "clothed_walk", "crossed"])
def test_left_and_right_face_points_never_share_a_vertex(files, character):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    reader = LandmarkReader(import_character(files[character], character))
    chosen = {name: (point.mesh_index, point.vertex) for name, point in zip(MEDIAPIPE33_NAMES, reader.points, strict=True)}
    for name in FACE_LANDMARKS:
        if "left" in name:
            assert chosen[name] != chosen[name.replace("left", "right")], name
    assert len({chosen[name] for name in FACE_LANDMARKS}) == len(FACE_LANDMARKS)


def test_skin_depths_reach_the_outer_shell_not_the_inner_joints(files):
    """Front-view first hits on a real Mixamo robot lie 3-13 cm in front of the joints; the depths must cover them."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    reader = LandmarkReader(import_character(files["robot_tpose"], "robot"))
    depth = dict(zip(MEDIAPIPE33_NAMES, reader.skin_depths, strict=True))
    for joint, shell_m in (
        ("shoulder", 0.067),
        ("elbow", 0.05),
        ("wrist", 0.036),
        ("hip", 0.094),
        ("knee", 0.068),
        ("ankle", 0.048),
    ):
        assert shell_m < depth[f"left_{joint}"] < 0.2, joint
    assert depth["left_hip"] < 0.25, "the far hip, 27 cm behind the near thigh, must stay hidden"
    assert np.isnan(depth["nose"]) and np.isnan(depth["left_heel"])


def test_count_on_a_loop_gives_two_poses_and_records_the_choice(files, tmp_path):
    path = files["loop"]
    params = RenderParams(characters=(_ref("loop", path),), angles=1, frames="count:2", preset="preview", resolution=(64, 64))
    summary = render_dataset(params, {"loop": path}, tmp_path / "out", transparent=True)
    (record,) = summary["characters"]
    assert record["animation_frames"] == [1, 33] and record["frames"] == [1, 17]
    assert record["frame_selection"]["loop"] is True and record["height_m"] == pytest.approx(1.75, abs=0.02)
    first, second = (
        np.array(_label(tmp_path / "out", "loop", f"front_f{frame:04d}")["keypoints"]["coco17"])[:, :2] for frame in (1, 17)
    )
    assert np.abs(first - second).max() > 3, "two different poses"
    assert min(record["frame_selection"]["pose_distances_m"]) > 0.03


def test_diverse_frames_are_recorded_with_their_distances(files, tmp_path):
    path = files["robot_walk"]
    params = RenderParams(characters=(_ref("walk", path),), angles=1, frames="diverse:4", preset="preview", resolution=(64, 64))
    summary = render_dataset(params, {"walk": path}, tmp_path / "out", transparent=True)
    (record,) = summary["characters"]
    assert len(record["frames"]) == 4 and summary["counts"]["images"] == 4
    assert all(distance > 0.03 for distance in record["frame_selection"]["pose_distances_m"])


def test_frames_outside_the_clip_fail_with_its_range(files, tmp_path):
    path = files["loop"]
    params = RenderParams(characters=(_ref("loop", path),), angles=1, frames="1,999", preset="preview", resolution=(64, 64))
    summary = render_dataset(params, {"loop": path}, tmp_path / "out")
    (failure,) = summary["failures"]
    assert "999" in failure["error"] and "1 to 33" in failure["error"]
    assert summary["counts"]["images"] == 0


def test_coco_keypoints_follow_the_same_visibility(dataset):
    out, _ = dataset
    label = _label(out, "robot_tpose", "left")
    for index, name in enumerate(COCO17_NAMES):
        assert label["keypoints"]["coco17"][index][2] == _visibility(label, name)
