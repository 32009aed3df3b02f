"""Randomized scenes and the depth, mask and parts passes, rendered for real (small Cycles renders).

The checks tie every pass to the labels: visible keypoints lie on the person mask, the mask's
box is the label's box, the depth under a visible joint is its skin in front of it, the part
under an elbow is that side's arm, and COCO tools read the segmentation as the mask.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from PIL import Image  # noqa: E402
from pycocotools.coco import COCO  # noqa: E402

from pose_factory_addon.core.body_parts import PARTS, palette_record  # noqa: E402
from pose_factory_addon.core.manifest import CharacterRef, RenderParams  # noqa: E402
from pose_factory_addon.core.skeletons import COCO17_NAMES  # noqa: E402
from pose_factory_addon.render.pipeline import render_dataset  # noqa: E402

pytestmark = pytest.mark.bpy

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "characters"
CHARACTERS = {"wave": SAMPLES / "Mannequin_Slim_Wave.glb", "clothed": SAMPLES / "Mannequin_Clothed_Walk.glb"}
SIZE = 128
# Which parts may lie under a joint (within 2 px): the two body parts the joint connects.
JOINT_PARTS = {
    "shoulder": ("torso", "upper_arm"),
    "elbow": ("upper_arm", "lower_arm"),
    "wrist": ("lower_arm", "hand"),
    "hip": ("torso", "upper_leg"),
    "knee": ("upper_leg", "lower_leg"),
    "ankle": ("lower_leg", "foot"),
}


def _params(seed: int, preset: str = "standard", randomize: str = "full", passes=("depth", "mask", "parts"), names=None):
    names = names or tuple(CHARACTERS)
    refs = tuple(
        CharacterRef(name, hashlib.sha256(CHARACTERS[name].read_bytes()).hexdigest(), CHARACTERS[name].suffix[1:])
        for name in names
    )
    return RenderParams(
        characters=refs,
        angles=4,
        frames="count:2",
        preset=preset,
        resolution=(SIZE, SIZE),
        seed=seed,
        randomize=randomize,
        passes=tuple(passes),
    )


@pytest.fixture(scope="module")
def backgrounds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's backgrounds folder with one photo (a coloured gradient)."""
    folder = tmp_path_factory.mktemp("backgrounds")
    ramp = np.linspace(0, 255, 96, dtype=np.uint8)
    Image.fromarray(np.stack([np.tile(ramp, (64, 1)), np.full((64, 96), 90, np.uint8), np.tile(ramp[::-1], (64, 1))], 2)).save(
        folder / "street.png"
    )
    return folder


def _render(out: Path, params: RenderParams, backgrounds: Path | None = None, debug_overlays: bool = False) -> dict:
    files = {ref.name: CHARACTERS[ref.name] for ref in params.characters}
    summary = render_dataset(params, files, out, backgrounds=backgrounds, debug_overlays=debug_overlays)
    assert summary["failures"] == []
    return summary


@pytest.fixture(scope="module")
def varied(tmp_path_factory: pytest.TempPathFactory, backgrounds: Path) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("varied")
    return out, _render(out, _params(3), backgrounds)


def _labels(out: Path, summary: dict) -> list[dict]:
    return [json.loads((out / image["label"]).read_text()) for image in summary["images"]]


def _read(out: Path, label: dict, name: str) -> np.ndarray:
    return np.asarray(Image.open(out / label["passes"][name]))


def _dilated(mask: np.ndarray, radius: int) -> np.ndarray:
    padded = np.pad(mask, radius)
    grown = np.zeros_like(mask)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            grown |= padded[dy : dy + mask.shape[0], dx : dx + mask.shape[1]]
    return grown


def _visible(label: dict, keypoint_set: str):
    for index, ((x, y, visibility), point) in enumerate(
        zip(label["keypoints"][keypoint_set], label["keypoints_3d"][keypoint_set], strict=True)
    ):
        if visibility == 2 and 0 <= x < label["width"] and 0 <= y < label["height"]:
            yield index, int(x), int(y), point


def test_every_image_records_its_scene_and_passes(varied):
    out, summary = varied
    assert summary["counts"]["images"] == 16 and summary["spec"]["randomize"] == "full"
    assert summary["parts"] == palette_record()
    kinds = set()
    for label in _labels(out, summary):
        scene = label["scene"]
        assert scene["randomize"] == "full" and scene["look"] is not None and scene["camera"] is not None
        kinds.add(scene["environment"]["background"]["kind"])
        assert set(label["passes"]) == {"depth", "mask", "parts"}
        assert all((out / path).is_file() for path in label["passes"].values())
    assert kinds <= {"hdri", "photo"} and "hdri" in kinds
    assert summary["scene"]["images"] == 16 and sum(summary["scene"]["backgrounds"].values()) == 16
    assert json.loads((out / "dataset.json").read_text())["scene"] == summary["scene"]
    names = {
        json.loads((out / image["label"]).read_text())["scene"]["environment"]["background"]["name"]
        for image in summary["images"]
    }
    assert len(names) >= 2, "frames get different backgrounds"


def test_the_same_seed_renders_the_same_labels_and_passes(varied, tmp_path, backgrounds):
    out, summary = varied
    again = _render(tmp_path, _params(3), backgrounds)
    assert _labels(tmp_path, again) == _labels(out, summary)
    for label in _labels(out, summary):
        for name in ("mask", "depth"):
            assert np.array_equal(_read(out, label, name), _read(tmp_path, label, name)), (label["image"], name)


def test_another_seed_changes_the_scene(varied, tmp_path):
    out, summary = varied
    other = _render(tmp_path, _params(4, names=("wave",), passes=()))
    first = {label["image"]: label["scene"] for label in _labels(out, summary)}
    for label in _labels(tmp_path, other):
        scene = first[label["image"]]
        assert label["scene"]["environment"] != scene["environment"] and label["scene"]["camera"] != scene["camera"]
        assert label["scene"]["look"] != scene["look"]
        pixels = [np.asarray(Image.open(folder / label["image"]).convert("RGB"), dtype=np.float64) for folder in (out, tmp_path)]
        assert np.abs(pixels[0].mean(axis=(0, 1)) - pixels[1].mean(axis=(0, 1))).max() > 2.0, "the backgrounds differ"


def test_visible_keypoints_lie_on_the_mask(varied):
    out, summary = varied
    checked = 0
    for label in _labels(out, summary):
        near_mask = _dilated(_read(out, label, "mask") > 0, 2)
        for keypoint_set in ("coco17", "mediapipe33"):
            for index, x, y, _ in _visible(label, keypoint_set):
                assert near_mask[y, x], f"{label['image']}: {keypoint_set}[{index}] at ({x}, {y}) is off the person"
                checked += 1
    assert checked > 500


def test_mask_box_is_the_label_box_and_coco_reads_the_mask(varied):
    out, summary = varied
    coco = COCO(str(out / "coco_keypoints.json"))
    by_file = {image["file_name"]: image["id"] for image in coco.dataset["images"]}
    for label in _labels(out, summary):
        mask = _read(out, label, "mask") > 0
        x, y, w, h = label["bbox"]
        mx, my, mw, mh = label["mask_bbox"]
        assert max(abs(x - mx), abs(y - my), abs(x + w - mx - mw), abs(y + h - my - mh)) <= 2.0, label["image"]
        (annotation,) = coco.loadAnns(coco.getAnnIds(imgIds=by_file[label["image"]]))
        assert np.array_equal(coco.annToMask(annotation).astype(bool), mask)
        assert annotation["area"] == label["mask_area"] == mask.sum()


def test_depth_under_a_visible_joint_is_its_skin(varied):
    """The first surface at a visible joint is in front of the joint centre by at most a limb's thickness."""
    out, summary = varied
    gaps = []
    for label in _labels(out, summary):
        depth = _read(out, label, "depth").astype(np.float64) / 1000.0
        mask = _read(out, label, "mask") > 0
        assert depth[mask].min() > 1.0 and depth[mask].max() < 10.0, "the person stands metres from the camera"
        for index, x, y, point in _visible(label, "coco17"):
            if index < 5:
                continue  # face points lie on the surface
            window = (slice(max(y - 1, 0), y + 2), slice(max(x - 1, 0), x + 2))
            if mask[window].any():
                gaps.append(point[2] - depth[window][mask[window]].min())
    gaps_cm = np.array(gaps) * 100
    assert len(gaps) > 100
    assert gaps_cm.min() > 0.0 and gaps_cm.max() < 30.0 and np.median(gaps_cm) < 10.0


def test_the_part_under_a_joint_is_that_sides_limb(varied):
    out, summary = varied
    for label in _labels(out, summary):
        parts = _read(out, label, "parts")
        mask = _read(out, label, "mask") > 0
        assert (parts[~_dilated(mask, 1)] == 0).all(), "parts only on the person"
        assert (parts[mask] > 0).mean() > 0.97
        for index, x, y, _ in _visible(label, "coco17"):
            if index < 5:
                continue
            side, joint = COCO17_NAMES[index].split("_", 1)
            near = {PARTS[value] for value in np.unique(parts[max(y - 2, 0) : y + 3, max(x - 2, 0) : x + 3])}
            allowed = {part if part == "torso" else f"{side}_{part}" for part in JOINT_PARTS[joint]}
            assert near & allowed, f"{label['image']}: {COCO17_NAMES[index]} lies on {sorted(near)}"


def test_a_user_photo_becomes_a_backdrop(tmp_path, backgrounds):
    params = replace(_params(11, names=("wave",), passes=()), angles=1, frames="1,5,9,13,17,21")
    summary = _render(tmp_path, params, backgrounds)
    names = {label["scene"]["environment"]["background"]["name"] for label in _labels(tmp_path, summary)}
    assert "user/street.png" in names


def test_workbench_writes_mask_and_depth_on_an_opaque_image(tmp_path):
    from pose_factory_addon.core.drawing import MASK_OUTLINE_COLOUR

    params = _params(5, preset="preview", randomize="light", passes=("depth", "mask"), names=("wave",))
    summary = _render(tmp_path, params, debug_overlays=True)
    for label in _labels(tmp_path, summary):
        image = np.asarray(Image.open(tmp_path / label["image"]).convert("RGBA"))
        assert (image[..., 3] == 255).all(), "the studio backdrop is composited back under the person"
        mask = _read(tmp_path, label, "mask") > 0
        assert 200 < mask.sum() < SIZE * SIZE / 2
        near_mask = _dilated(mask, 2)
        assert all(near_mask[y, x] for _, x, y, _ in _visible(label, "coco17"))
        depth = _read(tmp_path, label, "depth")
        assert (depth[mask] > 0).all()
        overlay = np.asarray(Image.open(tmp_path / "overlays" / label["image"]).convert("RGB"))
        assert (overlay == MASK_OUTLINE_COLOUR).all(axis=2).sum() > 50, "debug overlays outline the mask"


def test_overlays_and_contact_sheets_outline_the_mask(varied, tmp_path):
    from pose_factory_addon.core.contact_sheets import write_contact_sheet
    from pose_factory_addon.core.drawing import MASK_OUTLINE_COLOUR

    out, _ = varied
    plain, outlined = tmp_path / "plain.png", tmp_path / "outlined.png"
    assert write_contact_sheet(out, plain, max_images=4, tile=SIZE) == 4
    write_contact_sheet(out, outlined, max_images=4, tile=SIZE, mask_outline=True)
    colours = [np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3) for path in (plain, outlined)]
    counts = [int((pixels == MASK_OUTLINE_COLOUR).all(axis=1).sum()) for pixels in colours]
    assert counts[0] == 0 and counts[1] > 4 * 100, "about a body's outline per tile"


def test_eevee_takes_the_mask_from_cryptomatte_and_refuses_parts():
    """EEVEE has no index passes (its renders take about 40 s here on a software GPU, so only the set-up is checked)."""
    from pose_factory_addon.core.presets import render_preset
    from pose_factory_addon.render.importer import import_character
    from pose_factory_addon.render.keypoints import LandmarkReader
    from pose_factory_addon.render.passes import Passes
    from pose_factory_addon.render.scene import configure_render, reset_scene

    scene = reset_scene()
    configure_render(scene, render_preset("seed"), SIZE, SIZE)
    character = import_character(CHARACTERS["wave"], "wave")
    skin = LandmarkReader(character).skin
    passes = Passes(scene, ("depth", "mask"), character.meshes, skin)
    try:
        assert scene.view_layers[0].use_pass_cryptomatte_object and not scene.view_layers[0].use_pass_object_index
        (matte,) = [node for node in scene.node_tree.nodes if node.bl_idname == "CompositorNodeCryptomatteV2"]
        assert set(matte.matte_id.split(",")) == {obj.name for obj in character.meshes}
    finally:
        passes.close()
    with pytest.raises(ValueError, match="parts pass needs Cycles"):
        Passes(scene, ("parts",), character.meshes, skin)
