"""Every panel draws in every state (nothing configured, work running, errors) onto a recording layout."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from ui_helpers import RecordingLayout, connect, draw, sidebar_panels, use_characters

from pose_factory_addon.ui import bridge, panels
from pose_factory_addon.ui.preferences import PLAIN_TEXT_NOTE, POSEFACTORY_AP_preferences

bpy = pytest.importorskip("bpy")
pytestmark = pytest.mark.bpy

PANELS = sidebar_panels()


def _all(context: Any) -> dict[str, str]:
    return {panel.__name__.removeprefix("POSEFACTORY_PT_"): draw(panel, context).joined() for panel in PANELS}


def _post(*messages: Any) -> None:
    context = bridge.TaskContext("test")
    for message in messages:
        context.post(message)


def test_nothing_configured_gives_defaults_and_plain_not_configured_messages(addon: Any, isolated: Any) -> None:
    shown = _all(addon)
    assert f"Job store: {(isolated.data / 'pose-factory' / 'store').as_uri()}" in shown["main"]
    assert "Choose a folder of .fbx / .glb / .gltf characters" in shown["characters"]
    assert "0 characters × 8 views × 1 frames = 0 images" in shown["render"]
    assert "No estimate yet: choose at least one character" in shown["cost"]
    assert "Press refresh to read the jobs of the store" in shown["jobs"]
    assert "RunPod is not configured" in shown["pods"] and "No pod id" in shown["pods"]
    here = draw(panels.POSEFACTORY_PT_render_here, addon)
    assert "posefactory.render_local" in here.operators()
    assert f"Writes {isolated.data / 'pose-factory' / 'renders' / 'dataset'}" in here.joined()
    assert "offline mode" in shown["main"]


def test_preferences_say_that_blender_saves_them_in_plain_text(preferences: Any) -> None:
    layout = RecordingLayout()
    POSEFACTORY_AP_preferences.draw(SimpleNamespace(layout=layout), bpy.context)
    assert PLAIN_TEXT_NOTE in layout.joined()
    props = [args[1] for name, args, _ in layout.calls if name == "prop"]
    assert {"store_url", "s3_endpoint", "s3_region", "runpod_pod_id", "aws_secret_access_key", "runpod_api_key"} <= set(props)
    assert POSEFACTORY_AP_preferences.bl_rna.properties["aws_secret_access_key"].subtype == "PASSWORD"


def test_characters_counts_and_costs_with_a_folder(addon: Any, one_character: Path) -> None:
    use_characters(addon, one_character)
    settings = addon.scene.pose_factory
    settings.elevations, settings.frames = "0,30", "count:5"
    shown = _all(addon)
    assert "1 of 1 files ticked" in shown["characters"]
    assert "1 characters × 16 views × 5 frames = 80 images" in shown["render"]
    assert "Total: $0.046667 for 80 images" in shown["cost"]
    assert "Per image: $0.000583 (configured)" in shown["cost"]
    layout = draw(panels.POSEFACTORY_PT_characters, addon)
    assert any(name == "template_list" for name, _, _ in layout.calls)
    item_layout = RecordingLayout()
    panels.POSEFACTORY_UL_characters.draw_item(
        None, addon, item_layout, settings, settings.characters[0], 0, settings, "character_index", 0
    )
    assert "Mannequin_Slim_Wave" in item_layout.joined()


def test_jobs_running_show_progress_bars_and_stop_buttons(addon: Any, one_character: Path) -> None:
    use_characters(addon, one_character)
    running = bridge.JobRow("render_20260101_120000_0123abcd", "processing", done=3, total=16)
    _post(
        bridge.JobsListed((running, bridge.JobRow("render_20251231_120000_89abcdef", "completed", 16, 16))),
        bridge.TaskStarted("render", "Rendering here"),
        bridge.TaskProgress("render", 1, 4, "render: 1/4 images, 0.50 img/s"),
        bridge.TaskStarted("download", "Downloading"),
    )
    bridge.drain(addon.window_manager)
    jobs = draw(panels.POSEFACTORY_PT_jobs, addon)
    progress = [kwargs for name, _, kwargs in jobs.calls if name == "progress"]
    assert {"factor": 3 / 16, "type": "BAR", "text": "processing: 3/16 images"} in progress
    assert {"posefactory.cancel_job", "posefactory.download_results", "posefactory.load_contact_sheet"} <= set(jobs.operators())
    assert "posefactory.cancel_task" in jobs.operators()
    here = draw(panels.POSEFACTORY_PT_render_here, addon)
    assert {"factor": 0.25, "type": "BAR", "text": "render: 1/4 images, 0.50 img/s"} in [
        kwargs for name, _, kwargs in here.calls if name == "progress"
    ]
    row = RecordingLayout()
    runtime = addon.window_manager.pose_factory
    panels.POSEFACTORY_UL_jobs.draw_item(None, addon, row, runtime, runtime.jobs[0], 0, runtime, "job_index", 0)
    assert ("progress", (), {"factor": 3 / 16, "type": "BAR", "text": "3/16"}) in row.calls


def test_errors_are_shown_as_lines_never_raised(
    addon: Any, one_character: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_characters(addon, one_character)
    settings = addon.scene.pose_factory
    _post(
        bridge.TaskStarted("jobs", "Reading jobs"),
        bridge.TaskFinished("jobs", "ERROR", "Cannot reach the bucket at https://x.example (timeout)"),
        bridge.PodReport("ld5b9pkblr0xdu", error="RunPod rejected the API key (HTTP 401); check RUNPOD_API_KEY"),
    )
    bridge.drain(addon.window_manager)
    assert "Cannot reach the bucket at https://x.example (timeout)" in draw(panels.POSEFACTORY_PT_main, addon).joined()

    settings.elevations = "up"
    assert "write degrees separated by commas" in draw(panels.POSEFACTORY_PT_render, addon).joined()
    settings.elevations = "0"
    settings.frames = "sometimes"
    assert "bad frame selection" in draw(panels.POSEFACTORY_PT_render, addon).joined()
    settings.frames = "all"

    monkeypatch.setenv("POSE_FACTORY_MAX_BATCH_SIZE", "10")
    connect(addon)  # the environment is read when Blender starts, a file loads or a preference changes
    assert "Refused: 480 images is above the batch limit of 10 images" in draw(panels.POSEFACTORY_PT_cost, addon).joined()
    monkeypatch.delenv("POSE_FACTORY_MAX_BATCH_SIZE")
    monkeypatch.setenv("POSE_FACTORY_WARNING_THRESHOLD", "0.01")
    connect(addon)
    assert "submitting asks for confirmation" in draw(panels.POSEFACTORY_PT_cost, addon).joined()

    monkeypatch.setenv("POSE_FACTORY_STORE", "s3://pose-bucket/jobs")
    monkeypatch.setenv("POSE_FACTORY_S3_ENDPOINT", "https://account.r2.cloudflarestorage.com")
    connect(addon)
    main = draw(panels.POSEFACTORY_PT_main, addon).joined()
    assert "S3 is not configured" in main and "offline mode" in main

    monkeypatch.setenv("POSE_FACTORY_STORE", "ftp://example.com")
    connect(addon)
    shown = _all(addon)
    for name in ("main", "cost", "pods"):
        assert "Invalid setting store='ftp://example.com'" in shown[name], name

    monkeypatch.setenv("RUNPOD_API_KEY", "rpa_key_for_panel_test")
    monkeypatch.setenv("POSE_FACTORY_STORE", (tmp_path / "store").as_uri())
    from pose_factory_addon.core.pod_state import save_pod_id

    save_pod_id("ld5b9pkblr0xdu")
    connect(addon)
    pods = draw(panels.POSEFACTORY_PT_pods, addon).joined()
    assert "RunPod rejected the API key" in pods and "rpa_key_for_panel_test" not in pods

    settings.use_selected_armature = True
    assert "Select an armature in the viewport" in draw(panels.POSEFACTORY_PT_characters, addon).joined()
