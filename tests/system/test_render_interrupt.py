"""Ctrl-C on a real `pose-factory render`, at every phase: exit 130 within 2 s, no traceback, and a dataset
that describes exactly the files on disk; then `--resume` finishes it into what an uninterrupted run makes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pose_factory_addon.core.progress import parse_progress_line

pytestmark = pytest.mark.bpy
pytest.importorskip("bpy")

REPO = Path(__file__).resolve().parents[2]
WAVE = REPO / "samples" / "characters" / "Mannequin_Slim_Wave.glb"
WALK = REPO / "samples" / "characters" / "Mannequin_Average_Walk.fbx"
OPTIONS = ["--angles", "8", "--frames", "count:2", "--preset", "standard", "--resolution", "96x96"]


def _render(out: Path, *extra: str, characters: tuple[Path, ...] = (WAVE,)) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "pose_factory_addon.cli", "render", *map(str, characters), "--out", str(out), *OPTIONS]
    environment = dict(os.environ, POSE_FACTORY_PROGRESS_LINES="1")
    return subprocess.Popen([*command, *extra], stderr=subprocess.PIPE, text=True, env=environment, cwd=REPO)


def _interrupt_when(process: subprocess.Popen[str], wanted: str, delay_s: float = 0.0) -> tuple[float, str]:
    """Send SIGINT once a progress line containing ``wanted`` appears; returns (seconds to exit, stderr)."""
    assert process.stderr is not None
    lines = []
    sent = None
    for line in process.stderr:
        lines.append(line)
        parsed = parse_progress_line(line)
        if sent is None and parsed is not None and wanted in f"{parsed[0]}/{parsed[1]} {parsed[2]}":
            time.sleep(delay_s)
            process.send_signal(signal.SIGINT)
            sent = time.monotonic()
    process.wait(60)
    assert sent is not None, f"never saw {wanted!r}:\n{''.join(lines)}"
    return time.monotonic() - sent, "".join(lines)


def _check_consistent(out: Path) -> dict:
    """dataset.json and coco_keypoints.json list exactly the finished images, and every PNG has its label."""
    summary = json.loads((out / "dataset.json").read_text())
    listed = {image["image"] for image in summary["images"]}
    on_disk = {str(path.relative_to(out)) for path in out.rglob("*.png")}
    labels = {str(path.relative_to(out).with_suffix(".png")) for path in out.rglob("*.json") if path.parent != out}
    assert listed == on_disk == labels, (listed, on_disk, labels)
    for image in summary["images"]:
        label = json.loads((out / image["label"]).read_text())
        assert label["image"] == image["image"] and Image.open(out / image["image"]).size == (96, 96)
    if listed:
        coco = json.loads((out / "coco_keypoints.json").read_text())
        assert {entry["file_name"] for entry in coco["images"]} == listed
    assert not list(out.rglob(".*.partial")), "no half-written file is left"
    return summary


@pytest.mark.parametrize(
    ("moment", "wanted", "delay_s"),
    [
        ("during the import", "importing", 0.0),
        ("during framing", "framing", 0.0),
        ("during a Cycles render", "rendering Mannequin_Slim_Wave/front_right_f0001", 0.05),
        ("between images", "3/16", 0.0),
    ],
)
def test_ctrl_c_stops_within_two_seconds_and_leaves_a_true_dataset(
    tmp_path: Path, moment: str, wanted: str, delay_s: float
) -> None:
    out = tmp_path / "out"
    seconds, stderr = _interrupt_when(_render(out), wanted, delay_s)
    assert seconds < 2.0, f"{moment}: took {seconds:.1f} s"
    assert "Traceback" not in stderr and "ReferenceError" not in stderr, stderr
    summary = _check_consistent(out)
    assert summary["interrupted"] is True
    assert f"interrupted after {summary['counts']['images']} of 16 images" in stderr


def test_workers_stop_together_and_their_parts_are_merged(tmp_path: Path) -> None:
    out = tmp_path / "out"
    process = _render(out, "--workers", "2", characters=(WAVE, WALK))
    seconds, stderr = _interrupt_when(process, "2/")
    assert process.returncode == 130 and seconds < 3.0, (seconds, stderr[-2000:])
    assert "Traceback" not in stderr
    summary = _check_consistent(out)
    assert summary["interrupted"] is True and summary["workers"] == 2
    assert not (out / ".workers").exists()


def test_a_resumed_render_equals_an_uninterrupted_one(tmp_path: Path) -> None:
    interrupted, whole = tmp_path / "interrupted", tmp_path / "whole"
    _interrupt_when(_render(interrupted), "5/16")
    kept = {path: path.stat().st_mtime_ns for path in interrupted.rglob("*.png")}
    assert 0 < len(kept) < 16
    refused = _render(interrupted)
    assert refused.wait(60) == 2 and "already holds a dataset" in (refused.stderr.read() if refused.stderr else "")
    assert _render(interrupted, "--resume").wait(120) == 0
    assert _render(whole).wait(120) == 0
    assert all(path.stat().st_mtime_ns == mtime for path, mtime in kept.items()), "finished images are kept, not redone"
    first, second = _check_consistent(interrupted), _check_consistent(whole)
    assert "interrupted" not in first and first["counts"] == second["counts"]
    assert [image["image"] for image in first["images"]] == [image["image"] for image in second["images"]]
    for image in second["images"]:
        assert json.loads((interrupted / image["label"]).read_text()) == json.loads((whole / image["label"]).read_text())
        pixels = [np.asarray(Image.open(folder / image["image"])) for folder in (interrupted, whole)]
        assert np.array_equal(*pixels), image["image"]
    assert json.loads((interrupted / "coco_keypoints.json").read_text()) == json.loads(
        (whole / "coco_keypoints.json").read_text()
    )


def test_overwrite_removes_only_the_previous_dataset(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _render(out).wait(120) == 0
    (out / "notes.txt").write_text("mine")
    assert _render(out, "--resume").wait(60) == 0, "resuming a finished dataset renders nothing and succeeds"
    command = [sys.executable, "-m", "pose_factory_addon.cli", "render", str(WAVE), "--out", str(out), "--angles", "2",
               "--preset", "preview", "--resolution", "96x96"]  # fmt: skip
    result = subprocess.run([*command, "--resume"], capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 2 and "rendered with other options (angles, frames, preset)" in result.stderr
    result = subprocess.run([*command, "--overwrite"], capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 0, result.stderr
    assert (out / "notes.txt").read_text() == "mine"
    assert sorted(path.name for path in (out / "Mannequin_Slim_Wave").iterdir()) == [
        "back.json",
        "back.png",
        "front.json",
        "front.png",
    ]


def test_ctrl_c_while_waiting_for_a_job_exits_130_without_a_traceback(tmp_path: Path) -> None:
    from pose_factory_addon.core.manifest import CharacterRef, RenderParams, new_render_manifest
    from pose_factory_addon.core.queue import JobQueue
    from pose_factory_addon.core.store import open_store

    store = (tmp_path / "store").as_uri()
    manifest = new_render_manifest(RenderParams(characters=(CharacterRef("hero", "ab" * 32, "glb"),)))
    JobQueue(open_store(store)).submit(manifest)
    command = [sys.executable, "-m", "pose_factory_addon.cli", "wait", manifest.job_id, "--store", store]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=REPO)
    time.sleep(1.5)
    process.send_signal(signal.SIGINT)
    sent = time.monotonic()
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130 and time.monotonic() - sent < 2.0
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1] == "pose-factory wait: interrupted"
