"""Operators end to end against the default local folder store, with nothing configured."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import Isolated, connect, small_render_settings, use_characters

from pose_factory_addon.core.config import load_settings
from pose_factory_addon.core.cost import check_render_job, estimate
from pose_factory_addon.core.errors import StoreError, StoreUnreachable
from pose_factory_addon.core.manifest import manifest_from_json
from pose_factory_addon.core.queue import JobQueue, pending_key
from pose_factory_addon.core.store import LocalStore
from pose_factory_addon.ui import bridge
from pose_factory_addon.ui.messages import plain_message
from pose_factory_addon.ui.work import cost_view

bpy = pytest.importorskip("bpy")
pytestmark = pytest.mark.bpy


def _store_root(isolated: Isolated) -> Path:
    return isolated.data / "pose-factory" / "store"


def _pending(isolated: Isolated) -> list[Path]:
    return sorted((_store_root(isolated) / "jobs" / "pending").glob("*.json"))


def test_submit_refresh_download_and_contact_sheet(
    addon: Any, isolated: Isolated, one_character: Path, rendered_dataset: Path, tmp_path: Path
) -> None:
    use_characters(addon, one_character)
    small_render_settings(addon)
    assert bpy.ops.posefactory.submit_job() == {"FINISHED"}

    [manifest_path] = _pending(isolated)
    manifest = manifest_from_json(manifest_path.read_bytes())
    runtime = addon.window_manager.pose_factory
    assert runtime.jobs[0].name == manifest.job_id and runtime.jobs[0].state == "pending"
    assert [ref.name for ref in manifest.params.characters] == ["Mannequin_Slim_Wave"]
    assert manifest.params.angles == 2 and manifest.params.resolution == (64, 64) and manifest.params.preset == "preview"
    assert (_store_root(isolated) / manifest.params.characters[0].asset_key).is_file()

    queue = JobQueue(LocalStore(_store_root(isolated)))
    lease = queue.claim(pending_key(manifest.job_id), "test-worker")
    assert lease is not None
    results = tmp_path / "results"
    shutil.copytree(rendered_dataset, results)
    assert lease.complete(results)

    assert bpy.ops.posefactory.refresh_jobs() == {"FINISHED"}
    assert runtime.jobs[0].state == "completed"

    addon.scene.pose_factory.download_folder = str(tmp_path / "downloads")
    assert bpy.ops.posefactory.download_results() == {"FINISHED"}
    target = tmp_path / "downloads" / manifest.job_id
    assert json.loads((target / "dataset.json").read_text())["counts"]["images"] == 2
    assert runtime.jobs[0].results_folder == str(target)

    assert bpy.ops.posefactory.open_results_folder() == {"FINISHED"}
    assert bpy.ops.posefactory.load_contact_sheet() == {"FINISHED"}
    assert (target / "contact_sheet.png").is_file()
    assert any(Path(image.filepath) == target / "contact_sheet.png" for image in bpy.data.images)


def test_cancel_job(addon: Any, isolated: Isolated, one_character: Path) -> None:
    use_characters(addon, one_character)
    assert bpy.ops.posefactory.submit_job() == {"FINISHED"}
    assert bpy.ops.posefactory.cancel_job() == {"FINISHED"}
    runtime = addon.window_manager.pose_factory
    assert runtime.jobs[0].state == "cancelled"
    status = JobQueue(LocalStore(_store_root(isolated))).status(runtime.jobs[0].name)
    assert status is not None and status.state == "cancelled"
    with pytest.raises(RuntimeError, match="already cancelled"):
        bpy.ops.posefactory.cancel_job()


def test_cost_estimate_matches_the_cost_core(addon: Any, one_character: Path) -> None:
    use_characters(addon, one_character)
    settings = addon.scene.pose_factory
    settings.angles, settings.elevations, settings.frames = 8, "0,30", "count:3"
    images = 1 * 8 * 2 * 3
    core_settings = load_settings()
    decision = check_render_job(images, settings.preset, core_settings)
    view = cost_view(images, settings.preset, "local", (512, 512), core_settings)
    assert (view.total, view.per_image, view.warning or None) == (decision.total, decision.per_image, decision.warning)
    api = cost_view(images, settings.preset, "stability", (768, 768), core_settings)
    assert api.total == estimate("stability", images, resolution="768x768")["total"]
    assert bpy.ops.posefactory.estimate_cost() == {"FINISHED"}


def test_submit_refuses_above_the_limits_and_asks_above_the_warning(
    addon: Any, isolated: Isolated, one_character: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_characters(addon, one_character)
    monkeypatch.setenv("POSE_FACTORY_MAX_BATCH_SIZE", "3")
    with pytest.raises(RuntimeError, match="above the batch limit of 3 images"):
        bpy.ops.posefactory.submit_job()
    monkeypatch.delenv("POSE_FACTORY_MAX_BATCH_SIZE")
    monkeypatch.setenv("POSE_FACTORY_WARNING_THRESHOLD", "0.000001")
    with pytest.raises(RuntimeError, match="warning threshold"):
        bpy.ops.posefactory.submit_job()
    assert _pending(isolated) == []
    assert bpy.ops.posefactory.submit_job(confirmed=True) == {"FINISHED"}
    assert len(_pending(isolated)) == 1


def test_background_submit_returns_at_once_and_completes_through_the_drain(
    addon: Any, isolated: Isolated, one_character: Path
) -> None:
    use_characters(addon, one_character)
    runtime = addon.window_manager.pose_factory
    assert bpy.ops.posefactory.submit_job(background=True) == {"FINISHED"}
    assert len(runtime.jobs) == 0, "the worker's result must reach Blender only through drain()"
    assert bridge.wait(60)
    finished = bridge.drain(addon.window_manager)
    assert [(message.task, message.level) for message in finished] == [("submit", "INFO")]
    assert runtime.jobs[0].state == "pending" and runtime.task("submit").running is False
    assert len(_pending(isolated)) == 1


def test_settings_and_offline_errors_are_one_plain_line(addon: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSE_FACTORY_STORE", "ftp://example.com/jobs")
    with pytest.raises(RuntimeError, match=r"Invalid setting store='ftp://example.com/jobs' from \$POSE_FACTORY_STORE"):
        bpy.ops.posefactory.refresh_jobs()
    monkeypatch.setenv("POSE_FACTORY_STORE", "s3://pose-bucket/jobs")
    monkeypatch.setenv("POSE_FACTORY_S3_ENDPOINT", "https://account.r2.cloudflarestorage.com")
    assert not bpy.app.online_access
    with pytest.raises(RuntimeError, match="offline mode"):
        bpy.ops.posefactory.refresh_jobs()


def test_unreachable_bucket_becomes_a_plain_sentence() -> None:
    settings = load_settings(
        {"store": "s3://pose-bucket/jobs", "s3_endpoint": "https://acc.r2.cloudflarestorage.com"}, environ={}
    )
    error = StoreUnreachable("list s3://pose-bucket/jobs/jobs/status/: endpoint unreachable after 8 s (timeout)", "timeout")
    assert plain_message(error, settings) == (
        "Cannot reach the bucket at https://acc.r2.cloudflarestorage.com (s3://pose-bucket/jobs) (timeout)"
    )
    refused = StoreUnreachable("get s3://b/k: endpoint unreachable after 8 s (connection refused)", "connection refused")
    assert plain_message(refused, settings).endswith("(connection refused)")
    assert plain_message(StoreError("put k: secret-value-123 leaked"), settings, ["secret-value-123"]) == "Put k: *** leaked"


def test_the_selected_armature_is_exported_to_a_temporary_glb_for_the_job(
    addon: Any, isolated: Isolated, one_character: Path
) -> None:
    bpy.ops.import_scene.gltf(filepath=str(one_character / "Mannequin_Slim_Wave.glb"))
    armature = next(obj for obj in bpy.data.objects if obj.type == "ARMATURE")
    armature.name = "My Hero"
    bpy.context.view_layer.objects.active = armature
    armature.select_set(True)
    settings = addon.scene.pose_factory
    settings.use_selected_armature = True
    exported_before = set(Path(tempfile.gettempdir()).glob("pose-factory-armature-*"))

    assert bpy.ops.posefactory.submit_job() == {"FINISHED"}
    [manifest_path] = _pending(isolated)
    [character] = manifest_from_json(manifest_path.read_bytes()).params.characters
    assert (character.name, character.ext) == ("My_Hero", "glb")
    assert (_store_root(isolated) / character.asset_key).stat().st_size > 10_000
    assert set(Path(tempfile.gettempdir()).glob("pose-factory-armature-*")) == exported_before
    assert armature.select_get() and bpy.context.view_layer.objects.active == armature


def test_estimate_uses_the_timings_of_downloaded_results(
    addon: Any, one_character: Path, rendered_dataset: Path, tmp_path: Path
) -> None:
    from ui_helpers import draw

    from pose_factory_addon.ui.panels import POSEFACTORY_PT_cost
    from pose_factory_addon.ui.scene_state import measured_dirs

    use_characters(addon, one_character)
    settings = addon.scene.pose_factory
    settings.preset = "preview"
    settings.download_folder = str(tmp_path / "downloads")
    downloaded = tmp_path / "downloads" / "render_20260101_120000_0123abcd"
    shutil.copytree(rendered_dataset, downloaded)
    dataset = json.loads((downloaded / "dataset.json").read_text())
    dataset["device"] = {"requested": "auto", "device": "GPU", "backend": "OPTIX", "gpus": ["NVIDIA A40"]}
    (downloaded / "dataset.json").write_text(json.dumps(dataset))  # as a pod renders it: only GPU timings count
    decision = check_render_job(8, "preview", load_settings(), search_dirs=[tmp_path / "downloads"])
    assert decision.source.startswith("measured from")
    view = cost_view(8, "preview", "local", (512, 512), load_settings(), measured_dirs(addon))
    assert (view.total, view.source) == (decision.total, decision.source)
    assert "configured" in draw(POSEFACTORY_PT_cost, addon).joined(), "drawing reads no dataset.json"
    connect(addon)  # what a finished download does
    assert f"({decision.source})" in draw(POSEFACTORY_PT_cost, addon).joined()
