"""qa.html: summary first, both skeletons drawn in their own colours, undetected images listed, text escaped."""

from __future__ import annotations

import base64
import copy
import io
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from qa_helpers import FAKE_RUNNER, make_dataset

from pose_factory_addon.core import qa_detector, qa_report
from pose_factory_addon.core.qa_check import check_dataset


@pytest.fixture
def qa_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, Path]:
    """``qa.json`` of the synthetic dataset, with MediaPipe's skeleton moved 12 px right of ours."""
    monkeypatch.setattr(qa_detector, "runner_script", lambda: FAKE_RUNNER)
    monkeypatch.setenv(qa_detector.QA_PYTHON_ENV, sys.executable)
    dataset = make_dataset(tmp_path / "d")
    result = check_dataset(dataset)
    data = json.loads(result.json_path.read_text())
    for entry in data["images"]:
        entry["mediapipe"] = [[x + 12, y, z, visibility, presence] for x, y, z, visibility, presence in entry["mediapipe"]]
    return data, dataset


def _figures(page: str) -> list[Image.Image]:
    return [
        Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")
        for data in re.findall(r'src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', page)
    ]


def _near(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 40) -> int:
    pixels = np.asarray(image).astype(int)
    return int(np.sum(np.all(np.abs(pixels - colour) <= tolerance, axis=2)))


def test_the_summary_comes_before_the_images(qa_data: tuple[dict, Path]) -> None:
    data, dataset = qa_data
    page = qa_report.render_report(data, dataset)
    order = [page.index(f'id="{section}"') for section in ("summary", "visibility", "landmarks", "views", "worst")]
    assert order == sorted(order)
    assert "Detection rate" in page and "100%" in page and "No flags" in page
    assert page.count("<figure>") == 3 and "<script" not in page


def test_both_skeletons_are_drawn_in_their_own_colours(qa_data: tuple[dict, Path]) -> None:
    data, dataset = qa_data
    [first, *_] = _figures(qa_report.render_report(data, dataset))
    assert max(first.size) == qa_report.TILE_PX
    for palette in (qa_report.OURS_PALETTE, qa_report.MEDIAPIPE_PALETTE):
        assert _near(first, palette.right) > 30, palette
    without_mediapipe = copy.deepcopy(data)
    for entry in without_mediapipe["images"]:
        entry["mediapipe"] = None
    [only_ours, *_] = _figures(qa_report.render_report(without_mediapipe, dataset))
    assert _near(only_ours, qa_report.MEDIAPIPE_PALETTE.right) < 5
    assert "our labels (left, right)" in qa_report.render_report(data, dataset)


def test_the_worst_images_come_first_and_at_most_twenty(qa_data: tuple[dict, Path]) -> None:
    data, dataset = qa_data
    template = data["images"][0]
    data["images"] = [{**template, "body_error": i / 100} for i in range(30)]
    page = qa_report.render_report(data, dataset)
    assert page.count("<figure>") == qa_report.WORST_IMAGES
    captions = re.findall(r"body (0\.\d+), face", page)
    assert captions[0] == "0.290" and captions == sorted(captions, reverse=True)


def test_undetected_images_are_listed(qa_data: tuple[dict, Path]) -> None:
    data, dataset = qa_data
    data["images"][1].update(detected=False, body_error=None, face_error=None, swapped_body_error=None, mediapipe=None)
    page = qa_report.render_report(data, dataset)
    assert "Images without a detected person (1)" in page and "MediaPipe found no person" in page
    assert page.count("<figure>") == 3


def test_text_is_escaped(qa_data: tuple[dict, Path]) -> None:
    data, dataset = qa_data
    data["dataset"] = "/data/<b>&co"
    data["summary"]["flags"] = ["median body error 0.050 > 0.04 <script>alert(1)</script>"]
    page = qa_report.render_report(data, dataset)
    assert "<script>" not in page and "&lt;script&gt;" in page and "/data/&lt;b&gt;&amp;co" in page
    assert '<div class="flags bad">' in page
