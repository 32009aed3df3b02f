"""What a Blender session does that scripts never do: load files while tasks run, redraw often, search with F3.

The bpy module has no event loop, so the timer is called by hand (:func:`watcher.tick`), as
Blender would call it; everything it calls is the code a session runs.
"""

from __future__ import annotations

import builtins
import io
import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from ui_helpers import RecordingLayout, connect, draw, settle, sidebar_panels, use_characters

from pose_factory_addon.ui import bridge, menus, panels, snapshot, watcher

bpy = pytest.importorskip("bpy")
pytestmark = pytest.mark.bpy

PANELS = sidebar_panels()


def _tick_until_idle(limit_s: float = 30.0) -> None:
    deadline = time.monotonic() + limit_s
    while watcher.tick() is not None:
        assert time.monotonic() < deadline, "the watcher never went idle"
        time.sleep(0.05)


def test_a_background_task_survives_loading_a_file_and_reports(addon: Any) -> None:
    gate = threading.Event()

    def work(task: bridge.TaskContext) -> str:
        gate.wait(10)
        task.progress(1, 1, "Reading jobs: 1/1")
        return "3 jobs read"

    bridge.start("jobs", "Reading jobs", work)
    watcher.ensure_watcher()
    bpy.ops.wm.read_homefile()  # File > New: removes modal handlers and non-persistent timers
    assert bpy.app.timers.is_registered(watcher.tick), "the watcher must survive loading a file"
    gate.set()
    _tick_until_idle()
    task = bpy.context.window_manager.pose_factory.task("jobs")
    assert task is not None and not task.running and task.text == "3 jobs read"
    assert bpy.context.window_manager.pose_factory.message == "3 jobs read"
    assert not bpy.app.timers.is_registered(watcher.tick) or watcher.tick() is None, "idle: the timer stops itself"


_DISK_CALLS = (
    (builtins, "open"),
    (io, "open"),
    (os, "listdir"),
    (os, "scandir"),
    (os, "stat"),
    (Path, "read_text"),
    (Path, "read_bytes"),
    (Path, "open"),
    (Path, "glob"),
    (Path, "rglob"),
    (Path, "iterdir"),
)


def test_drawing_the_panels_reads_no_files(
    addon: Any, one_character: Path, rendered_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sidebar redraws several times a second while work runs: drawing must not touch the disk."""
    use_characters(addon, one_character)
    settings = addon.scene.pose_factory
    settings.download_folder = str(tmp_path / "downloads")
    runtime = addon.window_manager.pose_factory
    runtime.last_output_folder = str(rendered_dataset)
    bridge.drain(addon.window_manager)
    context = bridge.TaskContext("jobs")
    context.post(bridge.JobsListed((bridge.JobRow("render_20260101_120000_0123abcd", "processing", 3, 8),)))
    context.post(bridge.TaskStarted("render", "Rendering here"))
    context.post(bridge.TaskProgress("render", 1, 4))
    bridge.drain(addon.window_manager)
    monkeypatch.setenv("RUNPOD_API_KEY", "rpa_key_for_draw_test")
    monkeypatch.setenv("POSE_FACTORY_POD_ID", "ld5b9pkblr0xdu")
    connect(addon)
    calls: list[str] = []
    for owner, name in _DISK_CALLS:
        original = getattr(owner, name)

        def spy(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(owner, name, spy)
    try:
        for _ in range(3):
            for panel in PANELS:
                draw(panel, addon)
            for operator in ("check_labels", "load_contact_sheet", "pod_refresh", "download_results", "cancel_job"):
                getattr(bpy.ops.posefactory, operator).poll()
    finally:
        monkeypatch.undo()
    assert calls == [], f"draw() or poll() touched the disk: {sorted(set(calls))}"


def test_the_menu_lists_the_main_operators_and_each_runs_on_an_empty_scene(addon: Any) -> None:
    layout = RecordingLayout()
    menus.POSEFACTORY_MT_main.draw(SimpleNamespace(layout=layout), addon)
    listed = layout.operators()
    assert {"posefactory.submit_job", "posefactory.render_local", "posefactory.check_labels"} <= set(listed)
    assert hasattr(bpy.types, "POSEFACTORY_MT_main") and bpy.types.POSEFACTORY_MT_main.bl_label == "Pose Factory"
    for idname in listed:
        category, _, name = idname.partition(".")
        operator = getattr(getattr(bpy.ops, category), name)
        try:
            result = operator("EXEC_DEFAULT")
        except RuntimeError as error:  # a report or a poll message: one line, never a traceback
            assert "Traceback" not in str(error), (idname, str(error))
            assert "Error" in str(error) or "poll()" in str(error), (idname, str(error))
        else:
            assert result <= {"FINISHED", "CANCELLED"}, (idname, result)
        settle(addon)


def test_scene_changing_operators_can_be_undone_and_network_ones_are_not_undo_steps() -> None:
    from pose_factory_addon.ui import operators

    undoable = {"scan_characters", "load_contact_sheet", "generate_characters", "load_character"}
    for cls in operators.classes:
        name = cls.bl_idname.split(".")[1]
        options = getattr(cls, "bl_options", set())
        assert ("UNDO" in options) == (name in undoable), (name, options)
    assert watcher.POSEFACTORY_OT_report_message.bl_options == {"INTERNAL"}


def test_panel_buttons_have_short_texts(addon: Any, one_character: Path, rendered_dataset: Path) -> None:
    use_characters(addon, one_character)
    addon.window_manager.pose_factory.last_output_folder = str(rendered_dataset)
    context = bridge.TaskContext("jobs")
    context.post(bridge.JobsListed((bridge.JobRow("render_20260101_120000_0123abcd", "completed", 8, 8),)))
    bridge.drain(addon.window_manager)
    for panel in PANELS:
        for name, args, kwargs in draw(panel, addon).calls:
            if name == "operator" and args[0].startswith("posefactory."):
                assert "text" in kwargs and len(kwargs["text"]) <= 16, (panel.__name__, args[0], kwargs)


def test_long_messages_wrap_to_the_sidebar_width() -> None:
    layout = RecordingLayout()
    context = SimpleNamespace(region=SimpleNamespace(width=280), preferences=None)
    text = "Cannot reach the bucket at https://account.r2.cloudflarestorage.com (s3://pose-bucket/jobs) (timeout)"
    panels._wrapped(layout, context, text, "ERROR", alert=True)
    lines = layout.texts()
    assert len(lines) >= 3 and "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(len(line) <= 34 for line in lines)
    assert ("set", ("alert", True), {}) in layout.calls


def test_a_broken_cost_config_is_a_red_line(
    addon: Any, one_character: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "cost.yaml"
    broken.write_text("providers: [unclosed\n")
    monkeypatch.setenv("POSE_FACTORY_COST_CONFIG", str(broken))
    use_characters(addon, one_character)
    connect(addon)
    shown = draw(panels.POSEFACTORY_PT_cost, addon).joined()
    assert "Refused" in shown and "cost" in shown.lower()
    with pytest.raises(RuntimeError) as error:
        bpy.ops.posefactory.estimate_cost()
    assert "Traceback" not in str(error.value)


def test_scanning_in_the_background_shows_what_went_wrong(addon: Any, one_character: Path, tmp_path: Path) -> None:
    from pose_factory_addon.ui.properties import start_scan

    settings = addon.scene.pose_factory
    settings.characters_folder = str(tmp_path / "missing")
    start_scan(addon)
    assert bridge.is_running("scan") or bridge.has_work()
    settle(addon)
    assert "no such file or folder" in addon.window_manager.pose_factory.scan_problem
    assert "no such file or folder" in draw(panels.POSEFACTORY_PT_characters, addon).joined()
    settings.characters_folder = str(one_character)
    start_scan(addon)
    settle(addon)
    assert [item.name for item in settings.characters] == ["Mannequin_Slim_Wave"]
    assert addon.window_manager.pose_factory.scan_problem == ""


def test_active_jobs_refresh_on_their_own_while_the_jobs_panel_is_shown(
    addon: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    started: list[str] = []
    monkeypatch.setattr(watcher, "_refresh_jobs", lambda context: started.append("jobs"))
    context = bridge.TaskContext("jobs")
    context.post(bridge.JobsListed((bridge.JobRow("render_20260101_120000_0123abcd", "processing", 3, 8),)))
    bridge.drain(addon.window_manager)
    assert watcher.tick() is None and started == [], "nothing is watched before the panel is shown"
    draw(panels.POSEFACTORY_PT_jobs, addon)
    assert bpy.app.timers.is_registered(watcher.tick)
    watcher._last_auto_refresh[0] = time.monotonic() - 31
    assert watcher.tick() is not None and started == ["jobs"]
    assert watcher.tick() is not None and started == ["jobs"], "at most once per interval"
    addon.window_manager.pose_factory.jobs[0].state = "completed"
    watcher._last_auto_refresh[0] = 0.0
    assert watcher.tick() is None and started == ["jobs"], "finished jobs are not re-read"


def test_the_selected_armature_without_its_meshes_in_the_view_layer_still_exports(addon: Any, one_character: Path) -> None:
    from pose_factory_addon.ui.operators import _export_armature

    bpy.ops.import_scene.gltf(filepath=str(one_character / "Mannequin_Slim_Wave.glb"))
    armature = next(obj for obj in bpy.data.objects if obj.type == "ARMATURE")
    meshes = [obj for obj in bpy.data.objects if obj.type == "MESH"]
    hidden = bpy.data.collections.new("Hidden")
    addon.scene.collection.children.link(hidden)
    for mesh in meshes:
        for collection in list(mesh.users_collection):
            collection.objects.unlink(mesh)
        hidden.objects.link(mesh)
    addon.view_layer.layer_collection.children["Hidden"].exclude = True
    path = _export_armature(addon, armature)
    try:
        assert path.is_file() and path.stat().st_size > 0
    finally:
        path.unlink()
        path.parent.rmdir()


def test_testing_the_store_connection_says_what_worked(addon: Any, isolated: Any) -> None:
    assert bpy.ops.posefactory.test_store() == {"FINISHED"}
    lines = addon.window_manager.pose_factory.connection_test.split("\n")
    assert lines[0].startswith("Store: file://")
    assert lines[1] == "Listing jobs: ok, 0 jobs"
    assert lines[2:] == ["Writing and reading back a test object: ok", "Deleting it: ok"]


def test_testing_an_unconfigured_runpod_says_so(addon: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNPOD_API_BASE_URL", "http://127.0.0.1:9")
    connect(addon)
    with pytest.raises(RuntimeError, match="RunPod is not configured"):
        bpy.ops.posefactory.test_runpod()
    assert "Failed: RunPod is not configured" in addon.window_manager.pose_factory.connection_test


def test_the_connection_is_resolved_on_file_load(addon: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("POSE_FACTORY_STORE", (tmp_path / "other-store").as_uri())
    assert str(tmp_path / "other-store") not in draw(panels.POSEFACTORY_PT_main, addon).joined()
    bpy.ops.wm.read_homefile()
    assert snapshot.current_connection().link is not None
    assert str(tmp_path / "other-store") in draw(panels.POSEFACTORY_PT_main, bpy.context).joined()
