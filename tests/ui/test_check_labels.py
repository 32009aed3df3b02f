"""'Check Labels': the label check (MediaPipe in ``.venv-qa``) on the results folder, blocking and in the background."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import draw

from pose_factory_addon.ui import bridge
from pose_factory_addon.ui.panels import POSEFACTORY_PT_render_here

bpy = pytest.importorskip("bpy")
pytestmark = pytest.mark.bpy


@pytest.fixture
def results(addon: Any, rendered_dataset: Path, tmp_path: Path) -> Path:
    """A copy of the session's rendered dataset, as the last local render."""
    folder = tmp_path / "results"
    shutil.copytree(rendered_dataset, folder)
    addon.window_manager.pose_factory.last_output_folder = str(folder)
    return folder


def test_check_labels_shows_the_summary_and_the_report(addon: Any, results: Path, qa_python: Path) -> None:
    assert bpy.ops.posefactory.check_labels() == {"FINISHED"}
    summary = json.loads((results / "qa.json").read_text())["summary"]
    check = addon.window_manager.pose_factory.label_check
    assert check.folder == str(results) and check.report == str(results / "qa.html")
    assert check.detection_rate == pytest.approx(summary["detection_rate"])
    assert check.flags.split("\n") == summary["flags"] or (check.flags == "" and summary["flags"] == [])
    assert all("qa" in image for image in json.loads((results / "dataset.json").read_text())["images"])

    shown = draw(POSEFACTORY_PT_render_here, addon)
    text = shown.joined()
    assert f"Label check of {results}" in text
    assert f"MediaPipe detected a person in {summary['detection_rate']:.0%} of the images" in text
    assert all(flag in text for flag in summary["flags"])
    assert "posefactory.check_labels" in shown.operators() and "wm.url_open" in shown.operators()


def test_check_labels_in_the_background_reports_through_the_drain(addon: Any, results: Path, qa_python: Path) -> None:
    runtime = addon.window_manager.pose_factory
    assert bpy.ops.posefactory.check_labels(background=True) == {"FINISHED"}
    assert runtime.label_check.folder == "", "results reach Blender only through drain()"
    assert bridge.wait(120)
    progress = [(m.done, m.total) for m in list(bridge._messages.queue) if isinstance(m, bridge.TaskProgress)]
    assert progress[-1] == (2, 2)
    [finished] = bridge.drain(addon.window_manager)
    assert finished.ok, finished.text
    assert finished.text.startswith("Labels checked: ") and str(results / "qa.html") in finished.text
    assert runtime.label_check.report == str(results / "qa.html") and not runtime.task("qa").running


def test_without_a_qa_interpreter_the_error_is_one_line(addon: Any, results: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSE_FACTORY_QA_PYTHON", str(results / "no-python"))
    with pytest.raises(RuntimeError, match=r"POSE_FACTORY_QA_PYTHON is .*no-python, which does not exist; run `make qa-setup`"):
        bpy.ops.posefactory.check_labels()
    assert not (results / "qa.json").exists()
    assert addon.window_manager.pose_factory.label_check.folder == ""


def test_check_labels_needs_a_results_folder(addon: Any, tmp_path: Path) -> None:
    assert not bpy.ops.posefactory.check_labels.poll()
    addon.window_manager.pose_factory.last_output_folder = str(tmp_path)
    with pytest.raises(RuntimeError, match=r"has no dataset\.json: it is not a finished dataset"):
        bpy.ops.posefactory.check_labels()  # poll reads no disk; the operator checks the folder


def test_cancelling_stops_mediapipe_and_writes_nothing(addon: Any, results: Path, qa_python: Path) -> None:
    assert bpy.ops.posefactory.check_labels(background=True) == {"FINISHED"}
    assert bpy.ops.posefactory.cancel_task(task="qa") == {"FINISHED"}
    assert bridge.wait(60)
    [finished] = bridge.drain(addon.window_manager)
    assert (finished.level, finished.text) == ("WARNING", "Checking labels: cancelled")
    assert not (results / "qa.json").exists() and "qa" not in json.loads((results / "dataset.json").read_text())["images"][0]
