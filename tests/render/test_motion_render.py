"""Rendering with motions (real bpy, small Workbench renders on a transparent film): layout, labels, mirror, BVH.

One character (the slim glTF sample, which brings its own wave) is rendered in the library kick, a BVH
file written by the test, and both mirrored; the tests read what that one render wrote.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from motion_helpers import write_bvh  # noqa: E402
from PIL import Image  # noqa: E402

from pose_factory_addon.core.manifest import CharacterRef, MotionRef, RenderParams  # noqa: E402
from pose_factory_addon.core.skeletons import MEDIAPIPE33_NAMES  # noqa: E402
from pose_factory_addon.render.pipeline import render_dataset  # noqa: E402

pytestmark = pytest.mark.bpy

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "characters"
WAVE = SAMPLES / "Mannequin_Slim_Wave.glb"
WALK = SAMPLES / "Mannequin_Average_Walk.fbx"
SIZE = 96
ANIMATIONS = ("kick", "kick_mirrored", "known_angles", "known_angles_mirrored")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("motions")
    bvh = folder / "known_angles.bvh"
    write_bvh(bvh)
    params = RenderParams(
        characters=(CharacterRef("wave", _sha(WAVE), "glb"),),
        angles=2,
        frames="count:3",
        preset="preview",
        resolution=(SIZE, SIZE),
        motions=(MotionRef("kick"), MotionRef("known_angles", _sha(bvh), "bvh")),
        mirror=True,
    )
    progress: list[tuple[int, int]] = []
    out = folder / "out"
    summary = render_dataset(
        params, {"wave": WAVE}, out, lambda done, total: progress.append((done, total)), motion_files={"known_angles": bvh},
        transparent=True, debug_overlays=True,
    )  # fmt: skip
    assert summary["failures"] == []
    assert progress[-1] == (24, 24), "4 animations x 3 frames x 2 views"
    return out, summary


def _label(out: Path, motion: str, stem: str) -> dict:
    return json.loads((out / "wave" / motion / f"{stem}.json").read_text())


def _point(label: dict, name: str) -> list[float]:
    return label["keypoints"]["mediapipe33"][MEDIAPIPE33_NAMES.index(name)]


def test_each_motion_gets_its_own_folder_and_records(dataset: tuple[Path, dict]) -> None:
    out, summary = dataset
    assert sorted(path.name for path in (out / "wave").iterdir()) == sorted(ANIMATIONS)
    assert [(record["name"], record["motion"]) for record in summary["characters"]] == [("wave", name) for name in ANIMATIONS]
    assert summary["counts"] == {"images": 24, "characters": 1, "failures": 0, "animations": 4}
    for image in summary["images"]:
        motion = image["image"].split("/")[1]
        label = json.loads((out / image["label"]).read_text())
        assert image["image"].startswith(f"wave/{motion}/") and (out / image["image"]).is_file()
        assert label["motion"] == motion and list(label)[:5] == ["image", "width", "height", "character", "motion"]
        assert (out / "overlays" / "wave" / motion / Path(image["image"]).name).is_file()
    kick = summary["characters"][0]
    assert kick["animation_frames"] == [1, 47] and kick["frames"] == [1, 24, 47]
    assert kick["frame_selection"]["loop"] is False and "humanoid3d_kick.txt" in kick["motion_source"]
    assert "known_angles.bvh (BVH)" in summary["characters"][2]["motion_source"]
    assert kick["retarget_s"] < 1.0
    assert summary["spec"]["mirror"] is True


def test_every_keypoint_is_in_frame_and_visible_ones_are_on_the_body(dataset: tuple[Path, dict]) -> None:
    out, summary = dataset
    checked = 0
    for image in summary["images"]:
        label = json.loads((out / image["label"]).read_text())
        points = np.array(label["keypoints"]["mediapipe33"])
        assert np.all(points[:, 2] > 0) and np.all((points[:, :2] >= 0) & (points[:, :2] < SIZE)), image["image"]
        alpha = np.asarray(Image.open(out / image["image"]).getchannel("A"))
        for x, y, visibility in points[11:]:
            if visibility == 2:
                window = alpha[max(int(y) - 1, 0) : int(y) + 2, max(int(x) - 1, 0) : int(x) + 2]
                assert window.max() > 0, f"{image['image']}: a visible body keypoint at ({x:.1f}, {y:.1f}) is on the background"
                checked += 1
    assert checked > 200


def test_the_mirror_kicks_with_the_other_leg(dataset: tuple[Path, dict]) -> None:
    """The library kick lifts the right foot; in its mirror image the left foot is the one in the air."""
    out, _ = dataset
    for motion, kicking, standing in (("kick", "right_ankle", "left_ankle"), ("kick_mirrored", "left_ankle", "right_ankle")):
        label = _label(out, motion, "front_f0024")
        assert _point(label, kicking)[1] < _point(label, standing)[1] - 0.15 * SIZE, motion


def test_a_bvh_motion_shows_its_known_pose(dataset: tuple[Path, dict]) -> None:
    """The file's left arm hangs 50 to 90 degrees down on the character's left (image right from the front),
    and its mirror image puts every right joint where the original has the left one, reflected."""
    out, _ = dataset
    label = _label(out, "known_angles", "front_f0001")
    assert _point(label, "left_wrist")[0] > SIZE / 2 > _point(label, "right_wrist")[0], "the character's left is image right"
    mirrored = _label(out, "known_angles_mirrored", "front_f0001")
    for name in ("wrist", "elbow", "knee", "ankle"):
        left, right = np.array(_point(label, f"left_{name}")[:2]), np.array(_point(mirrored, f"right_{name}")[:2])
        assert abs((left[0] - SIZE / 2) + (right[0] - SIZE / 2)) < 3.0 and abs(left[1] - right[1]) < 3.0, name


def test_workers_forward_the_motions(tmp_path: Path) -> None:
    from pose_factory_addon.cli import main

    bvh = tmp_path / "known_angles.bvh"
    write_bvh(bvh)
    out = tmp_path / "parallel"
    status = main(
        ["render", str(WAVE), str(WALK), "--out", str(out), "--workers", "2", "--motion", f"run,{bvh}", "--mirror",
         "--frames", "1", "--angles", "1", "--preset", "preview", "--resolution", "64x64"]
    )  # fmt: skip
    assert status == 0
    summary = json.loads((out / "dataset.json").read_text())
    assert summary["counts"] == {"images": 8, "characters": 2, "failures": 0, "animations": 8}
    folders = {str(path.relative_to(out)) for path in out.glob("*/*") if path.is_dir()}
    assert folders == {f"{character}/{motion}" for character in ("Mannequin_Slim_Wave", "Mannequin_Average_Walk")
                       for motion in ("run", "run_mirrored", "known_angles", "known_angles_mirrored")}  # fmt: skip


def test_a_broken_motion_file_is_reported_and_the_others_render(tmp_path: Path) -> None:
    broken = tmp_path / "broken.bvh"
    broken.write_text("HIERARCHY\nROOT Hips\n{\n")
    params = RenderParams(
        characters=(CharacterRef("wave", _sha(WAVE), "glb"),), angles=1, preset="preview", resolution=(64, 64),
        motions=(MotionRef("broken", _sha(broken), "bvh"), MotionRef("walk")),
    )  # fmt: skip
    summary = render_dataset(params, {"wave": WAVE}, tmp_path / "out", motion_files={"broken": broken})
    assert [record["motion"] for record in summary["characters"]] == ["walk"]
    assert summary["failures"] == [{"motion": "broken", "error": "broken.bvh: no valid 'Frame Time:' line (is it a BVH file?)"}]
    only_broken = RenderParams(characters=params.characters, motions=params.motions[:1], preset="preview", resolution=(64, 64))
    summary = render_dataset(only_broken, {"wave": WAVE}, tmp_path / "nothing", motion_files={"broken": broken})
    assert summary["counts"]["images"] == 0 and summary["characters"] == [] and len(summary["failures"]) == 1
