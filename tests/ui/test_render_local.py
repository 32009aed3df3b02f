"""'Render Here': a background render process with progress, cancellation and one-line failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import small_render_settings, use_characters

from pose_factory_addon.ui import bridge

bpy = pytest.importorskip("bpy")
pytestmark = pytest.mark.bpy


def test_render_here_blocking_writes_a_dataset(addon: Any, one_character: Path, tmp_path: Path) -> None:
    use_characters(addon, one_character)
    small_render_settings(addon)
    addon.scene.pose_factory.local_output_folder = str(tmp_path / "renders")
    assert bpy.ops.posefactory.render_local() == {"FINISHED"}
    out = tmp_path / "renders" / "dataset"
    assert json.loads((out / "dataset.json").read_text())["counts"]["images"] == 2
    runtime = addon.window_manager.pose_factory
    assert runtime.last_output_folder == str(out)
    assert runtime.task("render").fraction == 1.0 and not runtime.task("render").running
    assert bpy.ops.posefactory.load_contact_sheet() == {"FINISHED"}
    assert (out / "contact_sheet.png").is_file()


def test_render_here_in_background_reports_progress_through_the_queue(addon: Any, one_character: Path, tmp_path: Path) -> None:
    use_characters(addon, one_character)
    small_render_settings(addon)
    addon.scene.pose_factory.local_output_folder = str(tmp_path / "renders")
    assert bpy.ops.posefactory.render_local(background=True) == {"FINISHED"}
    assert bridge.is_running("render")
    assert bridge.wait(300)
    queued = list(bridge._messages.queue)
    progress = [(message.done, message.total) for message in queued if isinstance(message, bridge.TaskProgress)]
    assert progress and progress[-1] == (2, 2)
    [finished] = bridge.drain(addon.window_manager)
    assert finished.ok, finished.text
    assert (tmp_path / "renders" / "dataset" / "dataset.json").is_file()


def test_cancelling_render_here_stops_the_process(addon: Any, one_character: Path, tmp_path: Path) -> None:
    use_characters(addon, one_character)
    small_render_settings(addon)
    addon.scene.pose_factory.local_output_folder = str(tmp_path / "renders")
    assert bpy.ops.posefactory.render_local(background=True) == {"FINISHED"}
    assert bpy.ops.posefactory.cancel_task(task="render") == {"FINISHED"}
    assert bridge.wait(60)
    [finished] = bridge.drain(addon.window_manager)
    assert (finished.level, finished.text) == ("WARNING", "Rendering here: cancelled")
    assert not (tmp_path / "renders" / "dataset" / "dataset.json").exists()


def test_a_file_that_is_no_character_is_named_when_the_folder_is_listed(addon: Any, tmp_path: Path) -> None:
    folder = tmp_path / "characters"
    folder.mkdir()
    (folder / "Notes.glb").write_bytes(b"not a glb file")
    use_characters(addon, folder)
    problem = addon.window_manager.pose_factory.scan_problem
    assert problem == f"{folder / 'Notes.glb'}: not a glTF file (neither binary glTF nor JSON)"
    assert len(addon.scene.pose_factory.characters) == 0


def test_a_broken_character_fails_in_one_line(addon: Any, tmp_path: Path) -> None:
    folder = tmp_path / "characters"
    folder.mkdir()
    (folder / "Broken.glb").write_bytes(b"glTF\x02\x00\x00\x00" + b"truncated binary glTF")  # passes the content check
    use_characters(addon, folder)
    small_render_settings(addon)
    addon.scene.pose_factory.local_output_folder = str(tmp_path / "renders")
    with pytest.raises(RuntimeError, match=r"The local render failed \(exit status 1\): pose-factory render: ") as caught:
        bpy.ops.posefactory.render_local()
    assert "Traceback" not in str(caught.value) and str(caught.value).count("\n") <= 1
