"""COCO keypoints assembly; the result must load with pycocotools."""

from __future__ import annotations

import json

import pytest

from pose_factory_addon.core import coco
from pose_factory_addon.core.skeletons import COCO17_NAMES


def _label(image: str, visibility: int) -> dict:
    keypoints = [[10.0 + i, 20.0 + i, visibility if i else 0] for i in range(17)]
    return {"image": image, "width": 64, "height": 48, "bbox": [5, 6, 30, 20], "keypoints": {"coco17": keypoints}}


def test_coco_assembly_loads_with_pycocotools(tmp_path):
    cocotools = pytest.importorskip("pycocotools.coco")
    dataset = coco.coco_keypoints([_label("a/front.png", 2), _label("a/back.png", 1)])
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(dataset))
    loaded = cocotools.COCO(str(path))
    assert sorted(loaded.getImgIds()) == [1, 2]
    category = loaded.loadCats(loaded.getCatIds())[0]
    assert category["keypoints"] == list(COCO17_NAMES)
    assert [16, 14] in category["skeleton"]
    annotation = loaded.loadAnns(loaded.getAnnIds(imgIds=[2]))[0]
    assert annotation["num_keypoints"] == 16
    assert annotation["keypoints"][:6] == [0.0, 0.0, 0, 11.0, 21.0, 1]
    assert annotation["area"] == 600
    assert annotation["iscrowd"] == 0


def test_missing_coco_keypoints_is_an_error():
    label = _label("a.png", 2)
    label["keypoints"] = {"mediapipe33": []}
    with pytest.raises(ValueError, match="coco17"):
        coco.coco_keypoints([label])
