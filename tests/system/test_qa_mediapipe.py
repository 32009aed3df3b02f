"""``pose-factory qa`` for real: a small rendered dataset, MediaPipe in ``.venv-qa``, the report in Chromium.

One walk is rendered once (8 views, 256x256, the ``standard`` preset: MediaPipe finds the person in
every view; with the flat ``preview`` shading it misses the front and back). The correct labels must
pass without flags; copies with left/right swapped, every keypoint 10 px to the right, or
visibility inverted must each raise their flag. Skips without ``.venv-qa`` or Chromium unless CI is set.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from qa_tools import REPO, load_page, require_chromium, screenshot

from pose_factory_addon.core.qa import swap_permutation
from pose_factory_addon.core.qa_report import OURS_PALETTE
from pose_factory_addon.core.skeletons import keypoint_set

pytestmark = [pytest.mark.slow]

WALK = REPO / "samples" / "characters" / "Mannequin_Average_Walk.fbx"
SIZE = 256
VIEWS = 8


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, qa_python: Path) -> Path:
    pytest.importorskip("bpy")
    from pose_factory_addon.core.manifest import CharacterRef, RenderParams
    from pose_factory_addon.render.pipeline import render_dataset

    out = tmp_path_factory.mktemp("qa") / "rendered"
    reference = CharacterRef("walk", hashlib.sha256(WALK.read_bytes()).hexdigest(), "fbx")
    params = RenderParams(characters=(reference,), angles=VIEWS, frames="1", preset="standard", resolution=(SIZE, SIZE))
    summary = render_dataset(params, {"walk": WALK}, out)
    assert summary["counts"]["images"] == VIEWS
    return out


def _qa(dataset: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``pose-factory qa DATASET`` in a subprocess, as a user runs it (the QA interpreter found next to the package)."""
    return subprocess.run(
        [sys.executable, "-m", "pose_factory_addon.cli", "qa", str(dataset), *options],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=False,
    )


def _copy(rendered: Path, folder: Path, change: Callable[[str, list[list[float]]], list[list[float]]] | None = None) -> Path:
    """A copy of the dataset with ``change(label_set, keypoints)`` applied to every label's keypoints."""
    shutil.copytree(rendered, folder)
    for image in json.loads((folder / "dataset.json").read_text())["images"]:
        path = folder / image["label"]
        label = json.loads(path.read_text())
        for name, keypoints in label["keypoints"].items():
            label["keypoints"][name] = change(name, keypoints) if change else keypoints
        path.write_text(json.dumps(label))
    return folder


def _swap(label_set: str, keypoints: list[list[float]]) -> list[list[float]]:
    return [keypoints[i] for i in swap_permutation(keypoint_set(label_set))]


def _shift(label_set: str, keypoints: list[list[float]]) -> list[list[float]]:
    return [[x + 10.0, y, v] for x, y, v in keypoints]


def _invert(label_set: str, keypoints: list[list[float]]) -> list[list[float]]:
    return [[x, y, {2: 1, 1: 2}.get(int(v), v)] for x, y, v in keypoints]


@pytest.fixture(scope="module")
def clean(rendered: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    dataset = _copy(rendered, tmp_path_factory.mktemp("clean") / "dataset")
    return dataset, _qa(dataset)


def _flags(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line.removeprefix("FLAG: ") for line in result.stdout.splitlines() if line.startswith("FLAG: ")]


def test_correct_labels_agree_with_mediapipe(clean: tuple[Path, Any]) -> None:
    _, result = clean
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"MediaPipe detected a person in {VIEWS}/{VIEWS} images (100%)", result.stdout
    assert lines[1].startswith("median error (body heights): body 0.0") and ", face 0.0" in lines[1]
    assert lines[2].startswith("left/right check: 0 swap suspects")
    assert lines[3].startswith("visibility agreement: ")
    assert "no flags" in lines, result.stdout
    assert "Traceback" not in result.stderr


def test_reports_and_qa_blocks_are_written(clean: tuple[Path, Any], rendered: Path) -> None:
    dataset, result = clean
    report = json.loads((dataset / "qa.json").read_text())
    summary = report["summary"]
    assert summary["label_set"] == "mediapipe33" and summary["detection_rate"] == 1.0
    assert summary["body_error"]["median"] < 0.03 and summary["offset"]["norm"] < 0.01
    assert f"report: {dataset / 'qa.html'}" in result.stdout
    assert 0.01 < report["seconds_per_image"] < 2.0
    before = json.loads((rendered / "dataset.json").read_text())
    after = json.loads((dataset / "dataset.json").read_text())
    blocks = [image.pop("qa") for image in after["images"]]
    assert after == before
    assert all(block["detected"] and 0 < block["body_error"] < 0.05 and not block["swap_suspect"] for block in blocks)
    assert [block["body_error"] for block in blocks] == [entry["body_error"] for entry in report["images"]]


@pytest.mark.parametrize(
    ("change", "expected"),
    [(_swap, "left/right swap suspected in "), (_shift, "systematic offset "), (_invert, "visibility agreement ")],
    ids=["swapped", "shifted", "inverted"],
)
def test_broken_labels_are_flagged(rendered: Path, tmp_path: Path, change: Callable, expected: str) -> None:
    result = _qa(_copy(rendered, tmp_path / "broken", change), "--out", str(tmp_path / "report"))
    assert result.returncode == 0, result.stderr
    assert any(flag.startswith(expected) for flag in _flags(result)), result.stdout
    assert (tmp_path / "report" / "qa.html").is_file()


def test_fail_above_gates_on_the_median_body_error(clean: tuple[Path, Any], tmp_path: Path) -> None:
    dataset, _ = clean
    summary = json.loads((dataset / "qa.json").read_text())["summary"]
    result = _qa(dataset, "--out", str(tmp_path), "--fail-above", "0.001")
    assert result.returncode == 1
    assert f"median body error {summary['body_error']['median']:.3f} is above --fail-above 0.001" in result.stderr


def test_an_unreadable_image_is_one_line(rendered: Path, tmp_path: Path) -> None:
    dataset = _copy(rendered, tmp_path / "dataset")
    (dataset / "walk" / "front.png").write_bytes(b"not a png")
    result = _qa(dataset)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = [line for line in result.stderr.splitlines() if line.startswith("pose-factory qa:")]
    assert "cannot read image" in line and "front.png" in line


def test_the_report_renders_in_chromium_without_errors(clean: tuple[Path, Any], tmp_path: Path) -> None:
    dataset, _ = clean
    page = load_page(dataset / "qa.html")
    assert page.console == []
    assert "Label check against MediaPipe Pose" in page.dom and "Detection rate" in page.dom
    assert page.dom.count("<figure>") == VIEWS
    picture = np.asarray(Image.open(screenshot(dataset / "qa.html", tmp_path / "qa.png")).convert("RGB")).astype(int)
    near_ours = np.all(np.abs(picture - OURS_PALETTE.right) <= 40, axis=2)
    assert near_ours.sum() > 200, "the embedded images with our skeleton must be drawn"


def test_the_browser_check_catches_a_script_error(tmp_path: Path) -> None:
    require_chromium()
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><p>Detection rate</p><script>notDefined();</script></body></html>")
    console = load_page(page).console
    assert len(console) == 1 and "Uncaught ReferenceError: notDefined is not defined" in console[0]
