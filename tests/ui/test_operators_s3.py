"""Operators against SeaweedFS (real S3 protocol), with the keys typed into the add-on preferences."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import small_render_settings, use_characters

from pose_factory_addon.core.queue import PENDING, JobQueue
from pose_factory_addon.core.store import S3Store

bpy = pytest.importorskip("bpy")
pytestmark = [pytest.mark.bpy, pytest.mark.s3]

ACCESS_KEY = "ui-test-access-key-1234"
SECRET_KEY = "ui-test-secret-key-5678"


def test_submit_refresh_download_on_s3_with_keys_from_preferences(
    addon: Any, preferences: Any, s3_server: Any, one_character: Path, rendered_dataset: Path, tmp_path: Path
) -> None:
    prefix = f"ui-{uuid.uuid4().hex[:10]}"
    preferences.store_url = f"s3://{s3_server.bucket}/{prefix}"
    preferences.s3_endpoint = s3_server.endpoint
    preferences.aws_access_key_id = ACCESS_KEY
    preferences.aws_secret_access_key = SECRET_KEY
    use_characters(addon, one_character)
    small_render_settings(addon)

    assert bpy.ops.posefactory.submit_job() == {"FINISHED"}
    store = S3Store(s3_server.bucket, prefix, endpoint=s3_server.endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY)
    [pending] = store.list(PENDING)
    manifest_bytes = store.get(pending).data
    assert ACCESS_KEY.encode() not in manifest_bytes and SECRET_KEY.encode() not in manifest_bytes

    queue = JobQueue(store)
    lease = queue.claim(pending, "ui-test-worker")
    assert lease is not None
    results = tmp_path / "results"
    shutil.copytree(rendered_dataset, results)
    assert lease.complete(results)

    assert bpy.ops.posefactory.refresh_jobs() == {"FINISHED"}
    runtime = addon.window_manager.pose_factory
    assert runtime.jobs[0].state == "completed"
    assert bpy.ops.posefactory.download_results(directory=str(tmp_path / "downloads")) == {"FINISHED"}
    assert (tmp_path / "downloads" / runtime.jobs[0].name / "coco_keypoints.json").is_file()

    blend = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), copy=True)
    saved = blend.read_bytes()
    assert ACCESS_KEY.encode() not in saved and SECRET_KEY.encode() not in saved


def test_background_refresh_on_s3_completes_through_the_drain(
    addon: Any, preferences: Any, s3_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pose_factory_addon.ui import bridge

    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    preferences.store_url = f"s3://{s3_server.bucket}/ui-{uuid.uuid4().hex[:10]}"
    assert bpy.ops.posefactory.refresh_jobs(background=True) == {"FINISHED"}
    assert bridge.wait(60)
    [finished] = bridge.drain(addon.window_manager)
    assert finished.ok and finished.text.startswith("0 jobs in s3://")
    assert addon.window_manager.pose_factory.jobs_checked
