"""An output folder's dataset: refuse, replace or resume (no bpy: labels and images are written by hand)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pose_factory_addon.core.dataset import write_json
from pose_factory_addon.core.dataset_folder import STATE_FILE, finished_images, prepare_output, remove_dataset
from pose_factory_addon.core.errors import UsageError
from pose_factory_addon.core.manifest import CharacterRef, RenderParams

PARAMS = RenderParams(characters=(CharacterRef("hero", "ab" * 32, "glb"),), angles=2)


def _image(out: Path, stem: str, label: bool = True) -> None:
    (out / "hero").mkdir(parents=True, exist_ok=True)
    (out / "hero" / f"{stem}.png").write_bytes(b"png")
    if label:
        write_json(out / "hero" / f"{stem}.json", {"image": f"hero/{stem}.png", "keypoints": {}})


def test_a_new_render_refuses_a_dataset_and_writes_its_state(tmp_path: Path) -> None:
    assert prepare_output(tmp_path / "out", PARAMS, "new") == {}
    assert json.loads((tmp_path / "out" / STATE_FILE).read_text())["spec"]["angles"] == 2
    with pytest.raises(UsageError, match="already holds a dataset: pass --resume to finish it, --overwrite"):
        prepare_output(tmp_path / "out", PARAMS, "new")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is a file, not a folder"):
        prepare_output(tmp_path / "file", PARAMS, "new")


def test_a_killed_render_resumes_from_its_state_file(tmp_path: Path) -> None:
    out = tmp_path / "out"
    prepare_output(out, PARAMS, "new")
    _image(out, "front")
    _image(out, "back", label=False)  # killed between the PNG and its label: not finished
    kept = prepare_output(out, PARAMS, "resume")
    assert list(kept) == ["hero/front.png"] and kept["hero/front.png"]["label"]["image"] == "hero/front.png"
    with pytest.raises(UsageError, match=r"other options \(angles\)"):
        prepare_output(out, RenderParams(characters=PARAMS.characters, angles=4), "resume")
    with pytest.raises(UsageError, match="holds no dataset to resume"):
        prepare_output(tmp_path / "empty", PARAMS, "resume")


def test_overwrite_removes_the_listed_files_and_nothing_else(tmp_path: Path) -> None:
    out = tmp_path / "out"
    prepare_output(out, PARAMS, "new")
    _image(out, "front")
    (out / "hero" / "notes.txt").write_text("mine")
    (out / "README.txt").write_text("mine")
    write_json(out / "dataset.json", {"spec": {}, "images": [{"image": "hero/front.png", "label": "hero/front.json"}]})
    (out / "coco_keypoints.json").write_text("{}")
    assert remove_dataset(out) == 5  # image, label, dataset.json, COCO, state file
    assert sorted(str(path.relative_to(out)) for path in out.rglob("*")) == ["README.txt", "hero", "hero/notes.txt"]
    assert finished_images(out) == {}
