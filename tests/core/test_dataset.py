"""dataset.json assembly and the merge of worker parts."""

from __future__ import annotations

import json

from pose_factory_addon.core import dataset
from pose_factory_addon.core.manifest import CharacterRef, RenderParams
from pose_factory_addon.core.presets import render_preset

SHA = "0" * 64


def _part(name: str, images: int) -> dict:
    params = RenderParams(characters=(CharacterRef(name, SHA, "fbx"),), preset="preview")
    summary = dataset.new_summary(params, render_preset("preview"), {"pose_factory": "test"})
    summary["characters"].append({"name": name, "import_s": 1.0, "framing_s": 0.5})
    summary["images"].extend(
        {"image": f"{name}/{i}.png", "label": f"{name}/{i}.json", "render_s": 2.0, "label_s": 0.1} for i in range(images)
    )
    return dataset.finish_summary(summary, 10.0)


def test_summary_totals():
    summary = _part("a", 4)
    assert summary["counts"] == {"images": 4, "characters": 1, "failures": 0}
    assert summary["timings"]["render_s"] == 8.0 and summary["timings"]["per_image_s"] == 2.5
    assert summary["spec"]["resolution"] == [512, 512]
    json.dumps(summary)


def test_merge_keeps_every_character_image_and_failure():
    first, second = _part("a", 2), _part("b", 3)
    second["failures"].append({"character": "c", "file": "c.fbx", "error": "c.fbx: no armature found"})
    merged = dataset.merge_summaries([first, second], 6.0)
    assert [ref["name"] for ref in merged["spec"]["characters"]] == ["a", "b"]
    assert merged["counts"] == {"images": 5, "characters": 2, "failures": 1}
    assert merged["timings"]["import_s"] == 2.0 and merged["timings"]["per_image_s"] == 1.2
    assert merged["workers"] == 2
    assert first["spec"]["characters"][0]["name"] == "a"  # parts are not modified


def test_write_and_read_back(tmp_path):
    summary = _part("a", 1)
    (tmp_path / "a").mkdir()
    label = {"image": "a/0.png", "width": 8, "height": 8, "bbox": [1, 1, 2, 2], "keypoints": {"coco17": [[1, 1, 2]] * 17}}
    dataset.write_json(tmp_path / "a" / "0.json", label)
    labels = dataset.read_labels(tmp_path, summary)
    dataset.write_dataset_files(tmp_path, summary, labels)
    assert json.loads((tmp_path / dataset.DATASET_FILE).read_text())["counts"]["images"] == 1
    assert len(json.loads((tmp_path / dataset.COCO_FILE).read_text())["annotations"]) == 1
