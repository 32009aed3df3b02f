"""The QA gate of `pose-factory enhance` with real MediaPipe: a pose that moved is rejected, one that stayed is kept.

One walk is rendered (4 views, 256x256, the ``standard`` preset, where MediaPipe finds the person in
every view). The local Stability server answers the front and back views unchanged and the side
views mirrored left-right: the person now faces the other way, so the labels no longer fit (body
error about 0.11-0.13 body heights against about 0.01-0.02 unchanged). A mirrored front or back view
is not a test case: the walk is nearly symmetric seen from there, so its mirror image still fits the
labels (0.01-0.02) and the gate, which checks the body and not the identity of left and right, keeps it.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from qa_tools import REPO
from stability_server import FakeStability, Recorded, Reply, mirrored, unchanged

pytestmark = [pytest.mark.slow]

WALK = REPO / "samples" / "characters" / "Mannequin_Average_Walk.fbx"
KEY = "sk-test-gate-5e4d3c2b1a"
SEED = 500
MIRRORED_VIEWS = ("right", "left")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, qa_python: Path) -> Path:
    pytest.importorskip("bpy")
    from pose_factory_addon.core.manifest import CharacterRef, RenderParams
    from pose_factory_addon.render.pipeline import render_dataset

    out = tmp_path_factory.mktemp("gate") / "walk"
    reference = CharacterRef("walk", hashlib.sha256(WALK.read_bytes()).hexdigest(), "fbx")
    params = RenderParams(characters=(reference,), angles=4, frames="1", preset="standard", resolution=(256, 256))
    assert render_dataset(params, {"walk": WALK}, out)["counts"]["images"] == 4
    return out


@pytest.fixture
def stability(monkeypatch: pytest.MonkeyPatch, qa_python: Path, tmp_path: Path) -> Iterator[FakeStability]:
    for name in list(os.environ):
        if name.startswith(("POSE_FACTORY_", "STABILITY_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("POSE_FACTORY_QA_PYTHON", str(qa_python))
    with FakeStability(KEY) as fake:
        monkeypatch.setenv("STABILITY_API_KEY", KEY)
        monkeypatch.setenv("STABILITY_API_BASE_URL", fake.url)
        yield fake


def test_mirrored_poses_are_rejected_and_unchanged_ones_kept(
    rendered: Path, stability: FakeStability, capsys: pytest.CaptureFixture[str]
) -> None:
    from pose_factory_addon.cli import main

    views = [image["image"] for image in json.loads((rendered / "dataset.json").read_text())["images"]]
    by_seed = {str(SEED + index): view for index, view in enumerate(views)}  # request i is sent with seed SEED + i

    def answer(request: Recorded) -> Reply:
        view = Path(by_seed[request.fields["seed"]]).stem
        return mirrored(request) if view in MIRRORED_VIEWS else unchanged(request, scale=2.0)

    stability.answer = answer
    started = time.monotonic()
    assert main(["enhance", str(rendered), "--prompt", "a photo of a person walking in a park", "--seed", str(SEED)]) == 0
    seconds = time.monotonic() - started
    out = rendered.with_name("walk_enhanced")
    summary = json.loads((out / "dataset.json").read_text())

    assert [image["image"] for image in summary["images"]] == ["walk/front.png", "walk/back.png"]
    rejected = {record["image"]: record for record in summary["rejected"]}
    assert set(rejected) == {"walk/right.png", "walk/left.png"}
    for record in rejected.values():
        assert record["detected"] is True and record["body_error"] > 0.08
        assert record["reason"] == f"body error {record['body_error']:.3f} is above 0.04 body heights"
    assert all(image["qa"]["body_error"] < 0.03 for image in summary["images"])
    assert summary["counts"]["images"] == 2 and summary["counts"]["rejected"] == 2
    coco = json.loads((out / "coco_keypoints.json").read_text())
    assert [image["file_name"] for image in coco["images"]] == ["walk/front.png", "walk/back.png"]
    qa = json.loads((out / "qa.json").read_text())
    assert qa["summary"]["images"] == 4, "the report covers every enhanced image, the rejected ones too"

    printed = capsys.readouterr().out
    assert "2 kept, 2 rejected by the QA gate" in printed
    assert f"rejected walk/right.png: body error {rejected['walk/right.png']['body_error']:.3f} is above 0.04" in printed
    assert seconds < 30
