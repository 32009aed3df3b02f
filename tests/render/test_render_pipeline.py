"""The renderer on the sample characters (real bpy, small Workbench renders with a transparent film).

One walk (Mixamo-style FBX: armature at scale 0.01, rotated 90 degrees about X) and one wave
(glTF) are rendered once per module; the tests read the images and labels they produced.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from PIL import Image  # noqa: E402

from pose_factory_addon.core.camera import project_points  # noqa: E402
from pose_factory_addon.core.manifest import CharacterRef, RenderParams  # noqa: E402
from pose_factory_addon.core.skeletons import COCO17_NAMES, MEDIAPIPE33_NAMES  # noqa: E402
from pose_factory_addon.render.pipeline import render_dataset  # noqa: E402
from pose_factory_addon.render.sample_characters import (  # noqa: E402
    export_sample_character,
    known_landmark_positions,
    root_travel_offset,
)

pytestmark = pytest.mark.bpy

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "characters"
WALK = SAMPLES / "Mannequin_Average_Walk.fbx"
WAVE = SAMPLES / "Mannequin_Slim_Wave.glb"
SIZE = 96
ROOT_TRAVEL_M = 3.0
JOINTS = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
          "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")  # fmt: skip


def _ref(name: str, path: Path) -> CharacterRef:
    return CharacterRef(name, hashlib.sha256(path.read_bytes()).hexdigest(), path.suffix[1:])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("dataset")
    params = RenderParams(
        characters=(_ref("walk", WALK), _ref("wave", WAVE)),
        frames="1,9,17",
        preset="preview",
        resolution=(SIZE, SIZE),
    )
    progress: list[tuple[int, int]] = []
    summary = render_dataset(params, {"walk": WALK, "wave": WAVE}, out, lambda d, t: progress.append((d, t)), transparent=True)
    assert progress[-1] == (48, 48)
    return out, summary


@pytest.fixture(scope="module")
def root_motion(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A walk whose Hips travel 3 m forward (-Y) over the clip, as a Mixamo clip without "In Place"."""
    folder = tmp_path_factory.mktemp("root_motion")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    path = export_sample_character(folder / "Walk_RootMotion.fbx", "average", "walk", root_travel_m=ROOT_TRAVEL_M)
    params = RenderParams(
        characters=(_ref("travel", path),), angles=4, frames="count:3", preset="preview", resolution=(SIZE, SIZE)
    )
    return folder / "out", render_dataset(params, {"travel": path}, folder / "out", transparent=True)


def _label(out: Path, character: str, stem: str) -> dict:
    return json.loads((out / character / f"{stem}.json").read_text())


def _points(label: dict, name: str, label_set: str = "mediapipe33") -> list[float]:
    names = MEDIAPIPE33_NAMES if label_set == "mediapipe33" else COCO17_NAMES
    return label["keypoints"][label_set][names.index(name)]


def test_outputs_follow_the_layout(dataset):
    out, summary = dataset
    assert summary["failures"] == []
    assert summary["counts"] == {"images": 48, "characters": 2, "failures": 0}
    assert (out / "walk" / "front_f0009.png").is_file() and (out / "wave" / "back_left_f0017.json").is_file()
    label = _label(out, "walk", "front_f0009")
    assert label["image"] == "walk/front_f0009.png" and label["frame"] == 9 and label["view"] == "front"
    assert len(label["keypoints"]["mediapipe33"]) == 33 and len(label["keypoints_3d"]["coco17"]) == 17
    saved = json.loads((out / "dataset.json").read_text())
    assert saved["preset"]["name"] == "preview" and len(saved["images"]) == 48


def test_mixamo_fbx_is_normalised_to_metres_on_the_ground(dataset):
    _, summary = dataset
    tallest = {"walk": 1.9, "wave": 2.4}  # the wave raises a hand above the head
    for record in summary["characters"]:
        low, high = np.array(record["bounds_min"]), np.array(record["bounds_max"])
        assert abs(low[2]) < 0.03, record["name"]
        assert 1.6 < high[2] - low[2] < tallest[record["name"]], record["name"]
        assert np.all(np.abs((low + high)[:2] / 2) < 0.3)


def test_every_keypoint_is_inside_every_image(dataset):
    out, summary = dataset
    for image in summary["images"]:
        label = json.loads((out / image["label"]).read_text())
        points = np.array(label["keypoints"]["mediapipe33"])
        assert np.all(points[:, 2] > 0), image["image"]
        assert np.all((points[:, :2] >= 0) & (points[:, :2] < SIZE)), image["image"]
        x, y, w, h = label["bbox"]
        assert h > 0.6 * SIZE, f"{image['image']}: the body should fill most of the frame height"
        assert x > 0 and y > 0 and x + w < SIZE and y + h < SIZE, "margin around the body"


def test_left_and_right_are_the_characters(dataset):
    out, _ = dataset
    front = _label(out, "walk", "front_f0001")
    back = _label(out, "walk", "back_f0001")
    assert _points(front, "left_shoulder")[0] > _points(front, "right_shoulder")[0]
    assert _points(back, "left_shoulder")[0] < _points(back, "right_shoulder")[0]
    wave = _label(out, "wave", "front_f0001")  # the RIGHT hand waves beside the head, wrist above the nose
    assert _points(wave, "right_wrist")[1] < _points(wave, "nose")[1] < _points(wave, "left_wrist")[1]
    assert _points(wave, "right_wrist")[0] < SIZE / 2


def test_nose_is_visible_from_the_front_and_occluded_from_the_back(dataset):
    out, _ = dataset
    for character in ("walk", "wave"):
        assert _points(_label(out, character, "front_f0001"), "nose")[2] == 2
        assert _points(_label(out, character, "back_f0001"), "nose")[2] == 1


def test_visible_keypoints_land_on_character_pixels(dataset):
    out, summary = dataset
    checked = 0
    for image in summary["images"]:
        label = json.loads((out / image["label"]).read_text())
        alpha = np.asarray(Image.open(out / image["image"]).getchannel("A"))
        for name, (x, y, visibility) in zip(COCO17_NAMES, label["keypoints"]["coco17"], strict=True):
            if visibility != 2:
                continue
            column, row = int(x), int(y)
            window = alpha[max(row - 1, 0) : row + 2, max(column - 1, 0) : column + 2]
            assert window.max() > 0, f"{image['image']}: {name} at ({x:.1f}, {y:.1f}) is on the background"
            checked += 1
    assert checked > 300


def test_labels_change_with_the_frame(dataset):
    out, _ = dataset
    first = np.array(_label(out, "walk", "right_f0001")["keypoints"]["coco17"])[:, :2]
    later = np.array(_label(out, "walk", "right_f0009")["keypoints"]["coco17"])[:, :2]
    assert np.abs(first - later).max() > 3


@pytest.mark.parametrize(("character", "shape", "motion"), [("walk", "average", "walk"), ("wave", "slim", "wave")])
def test_labels_match_the_known_joint_positions(dataset, character, shape, motion):
    out, _ = dataset
    for stem, frame in (("front_left_f0001", 1), ("back_right_f0009", 9), ("right_f0017", 17)):
        label = _label(out, character, stem)
        camera = label["camera"]
        K, R, t = (np.array(camera[key]) for key in ("K", "R", "t"))
        known = known_landmark_positions(shape, motion, frame)
        expected, _ = project_points(np.array([known[name] for name in JOINTS]), K, R, t)
        actual = np.array([_points(label, name)[:2] for name in JOINTS])
        assert np.abs(actual - expected).max() < 1.5, f"{character} {stem}"
        nose, _ = project_points(np.array([known["nose"]]), K, R, t)
        assert np.abs(np.array(_points(label, "nose")[:2]) - nose[0]).max() < 3


def test_coco_output_loads_with_pycocotools(dataset):
    cocotools = pytest.importorskip("pycocotools.coco")
    out, _ = dataset
    coco = cocotools.COCO(str(out / "coco_keypoints.json"))
    assert len(coco.getImgIds()) == 48 and len(coco.getAnnIds()) == 48
    annotation = coco.loadAnns(coco.getAnnIds(imgIds=[1]))[0]
    assert annotation["num_keypoints"] == 17 and annotation["area"] > 0


def test_a_file_without_armature_is_reported_and_others_continue(tmp_path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.mesh.primitive_cube_add()
    cube = tmp_path / "cube.fbx"
    bpy.ops.export_scene.fbx(filepath=str(cube))
    params = RenderParams(characters=(_ref("cube", cube), _ref("wave", WAVE)), angles=1, preset="preview", resolution=(64, 64))
    summary = render_dataset(params, {"cube": cube, "wave": WAVE}, tmp_path / "out")
    assert [failure["character"] for failure in summary["failures"]] == ["cube"]
    assert "no armature" in summary["failures"][0]["error"]
    assert summary["counts"]["images"] == 1
    result = subprocess.run(
        [sys.executable, "-m", "pose_factory_addon.cli", "render", str(cube), "--out", str(tmp_path / "cli"), "--angles", "1",
         "--preset", "preview", "--resolution", "64x64"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("pose-factory render:")]
    assert len(errors) == 1 and "no armature" in errors[0]
    assert "Traceback" not in result.stderr


def test_render_cli_end_to_end(tmp_path):
    out = tmp_path / "cli"
    result = subprocess.run(
        [sys.executable, "-m", "pose_factory_addon.cli", "render", str(WAVE), "--out", str(out), "--angles", "2",
         "--frames", "count:2", "--preset", "preview", "--resolution", "64x64", "--labels", "coco17", "--debug-overlays"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    names = sorted(path.name for path in (out / "Mannequin_Slim_Wave").iterdir())
    assert len(names) == 8 and "back_f0001.png" in names
    label = json.loads((out / "Mannequin_Slim_Wave" / "front_f0001.json").read_text())
    assert list(label["keypoints"]) == ["coco17"]
    assert (out / "overlays" / "Mannequin_Slim_Wave" / "front_f0001.png").is_file()
    assert json.loads((out / "dataset.json").read_text())["counts"]["images"] == 4


def test_preview_draws_a_contact_sheet(dataset, tmp_path):
    from pose_factory_addon.cli import main

    out, _ = dataset
    sheet = tmp_path / "sheet.png"
    assert main(["preview", str(out), "--out", str(sheet), "--tile", "64", "--max-images", "16"]) == 0
    assert Image.open(sheet).size == (8 * 64, 2 * (64 + 16))
    assert main(["preview", str(tmp_path), "--out", str(sheet)]) == 2


def test_workers_render_shares_and_merge_them(tmp_path):
    out = tmp_path / "parallel"
    result = subprocess.run(
        [sys.executable, "-m", "pose_factory_addon.cli", "render", str(WAVE), str(WALK), "--out", str(out), "--angles", "1",
         "--preset", "preview", "--resolution", "64x64", "--workers", "2", "--randomize", "light", "--passes", "mask"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "dataset.json").read_text())
    assert summary["workers"] == 2 and summary["counts"] == {"images": 2, "characters": 2, "failures": 0}
    assert summary["spec"]["randomize"] == "light" and summary["spec"]["passes"] == ["mask"]
    for image in summary["images"]:
        label = json.loads((out / image["label"]).read_text())
        assert label["scene"]["randomize"] == "light", "every worker renders with the parent's options"
        assert (out / label["passes"]["mask"]).is_file()
    assert {ref["name"] for ref in summary["spec"]["characters"]} == {"Mannequin_Slim_Wave", "Mannequin_Average_Walk"}
    coco = json.loads((out / "coco_keypoints.json").read_text())
    assert len(coco["annotations"]) == 2
    assert not (out / ".workers").exists()


def test_root_motion_walk_is_followed_and_fills_every_image(root_motion):
    out, summary = root_motion
    assert summary["failures"] == [] and summary["counts"]["images"] == 12
    (record,) = summary["characters"]
    offsets = np.array(record["root_offsets_m"])
    frames = record["frames"]
    travelled = ROOT_TRAVEL_M * (frames[-1] - frames[0]) / (record["animation_frames"][1] - 1)
    assert travelled > 1.5 and offsets[-1, 1] - offsets[0, 1] == pytest.approx(-travelled, abs=0.1)
    assert np.all(offsets[:, 2] == 0)
    assert record["bounds_max"][1] - record["bounds_min"][1] < 1.0, "the box is the body's, not its path's"
    for image in summary["images"]:
        label = json.loads((out / image["label"]).read_text())
        points = np.array(label["keypoints"]["mediapipe33"])
        assert np.all(points[:, 2] > 0) and np.all((points[:, :2] >= 0) & (points[:, :2] < SIZE)), image["image"]
        x, _, w, h = label["bbox"]
        assert h > 0.6 * SIZE, f"{image['image']}: the body should fill most of the frame height"
        assert abs(x + w / 2 - SIZE / 2) < 0.1 * SIZE, f"{image['image']}: the body should stay centred"


def test_root_motion_labels_come_from_each_images_own_camera(root_motion):
    out, summary = root_motion
    for image in summary["images"]:
        label = json.loads((out / image["label"]).read_text())
        camera = label["camera"]
        K, R, t = (np.array(camera[key]) for key in ("K", "R", "t"))
        known = known_landmark_positions("average", "walk", label["frame"])
        travel = root_travel_offset("walk", label["frame"], ROOT_TRAVEL_M)
        expected, _ = project_points(np.array([known[name] for name in JOINTS]) + travel, K, R, t)
        actual = np.array([_points(label, name)[:2] for name in JOINTS])
        assert np.abs(actual - expected).max() < 1.5, image["image"]


def test_in_place_clips_keep_a_nearly_fixed_aim(dataset):
    _, summary = dataset
    for record in summary["characters"]:
        offsets = np.array(record["root_offsets_m"])
        assert np.abs(offsets - offsets[0]).max() < 0.1, record["name"]


def test_workers_share_the_frames_of_one_long_clip(tmp_path):
    """With fewer characters than workers, the workers split the frames; the dataset is the one a single process makes."""
    runs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"workers{workers}"
        result = subprocess.run(
            [sys.executable, "-m", "pose_factory_addon.cli", "render", str(WAVE), "--out", str(out), "--angles", "2",
             "--frames", "count:4", "--preset", "preview", "--resolution", "64x64", "--workers", workers],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        runs[workers] = (out, json.loads((out / "dataset.json").read_text()))
    (single, one), (shared, two) = runs["1"], runs["2"]
    assert two["workers"] == 2 and len(two["characters"]) == 1 and two["counts"] == one["counts"]
    assert [image["image"] for image in two["images"]] == [image["image"] for image in one["images"]]
    assert all("_order" not in image for image in two["images"])
    for image in one["images"]:
        assert json.loads((shared / image["label"]).read_text()) == json.loads((single / image["label"]).read_text())
