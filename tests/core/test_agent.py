"""The agent loop in-process (no bpy): handler table, failures, asset checks, stopping, workspace cleanup."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from pose_factory_addon.agent import AgentOptions, EventLog, JobHandler, ProgressCallback, run_agent
from pose_factory_addon.core.manifest import JobManifest, RenderParams, new_job_id, new_render_manifest
from pose_factory_addon.core.queue import JobQueue, pending_key
from pose_factory_addon.core.store import ObjectStore


def _submit(queue: JobQueue, tmp_path: Path, count: int = 1) -> list[str]:
    character = tmp_path / "Hero.glb"
    if not character.exists():
        character.write_bytes(os.urandom(512))
    ref = queue.upload_character(character)
    job_ids = []
    for _ in range(count):
        manifest = new_render_manifest(RenderParams(characters=(ref,), angles=1, preset="preview", resolution=(64, 64)))
        queue.submit(manifest)
        job_ids.append(manifest.job_id)
    return job_ids


def _run(
    store: ObjectStore, tmp_path: Path, handlers: Mapping[str, JobHandler], stop: threading.Event | None = None
) -> list[dict]:
    stream = io.StringIO()
    options = AgentOptions(worker_id="tester", workspace=tmp_path / "ws", once=True, poll_seconds=0.05, lease_seconds=5)
    run_agent(store, options, handlers, stop=stop, log=EventLog("tester", stream))
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def _writes_one_image(manifest: JobManifest, files: Mapping[str, Path], out_dir: Path, progress: ProgressCallback) -> None:
    (out_dir / "Hero").mkdir()
    (out_dir / "Hero" / "front.png").write_bytes(files["Hero"].read_bytes()[:16])
    progress(1, 1)


def test_crashing_handler_is_retried_then_failed_and_the_agent_goes_on(store: ObjectStore, tmp_path: Path) -> None:
    queue = JobQueue(store, max_attempts=3)
    crashing, fine = _submit(queue, tmp_path, 2)

    def handler(manifest: JobManifest, files: Mapping[str, Path], out_dir: Path, progress: ProgressCallback) -> None:
        if manifest.job_id == crashing:
            raise OSError("disk full")
        _writes_one_image(manifest, files, out_dir, progress)

    events = _run(store, tmp_path, {"render": handler})
    status = queue.status(crashing)
    assert status is not None and status.state == "failed" and status.attempts == 3 and status.error == "OSError: disk full"
    done = queue.status(fine)
    assert done is not None and done.state == "completed"
    failed_events = [event for event in events if event["event"] == "job_failed"]
    assert [event["retry"] for event in failed_events] == [True, True, False]
    assert all(event["job_id"] is not None for event in events if event["event"].startswith("job_"))


def test_generated_characters_are_published_as_assets(store: ObjectStore, tmp_path: Path) -> None:
    """Files a job writes under characters/ become content-addressed assets, listed in characters/assets.json."""
    queue = JobQueue(store)
    job_id = new_job_id("character")
    manifest = {
        "job_id": job_id,
        "job_type": "character",
        "created_at": "2025-01-01T00:00:00Z",
        "params": {"character_params": {"gender": "female", "age": 30}, "count": 1},
    }
    store.put(pending_key(job_id), json.dumps(manifest).encode())
    body = os.urandom(256)

    def generates(manifest: JobManifest, files: Mapping[str, Path], out_dir: Path, progress: ProgressCallback) -> None:
        (out_dir / "characters").mkdir()
        (out_dir / "characters" / "female_30y_abc123.glb").write_bytes(body)
        (out_dir / "characters" / "female_30y_abc123.json").write_text("{}")

    events = _run(store, tmp_path, {"character": generates})
    status = queue.status(job_id)
    assert status is not None and status.state == "completed"
    digest = hashlib.sha256(body).hexdigest()
    assert store.get(f"assets/characters/{digest}.glb").data == body
    assets = json.loads(store.get(f"results/{job_id}/characters/assets.json").data)
    assert assets == [{"name": "female_30y_abc123", "sha256": digest, "ext": "glb"}]
    assert [event["count"] for event in events if event["event"] == "characters_published"] == [1]


def test_corrupt_asset_fails_without_retry(store: ObjectStore, tmp_path: Path) -> None:
    queue = JobQueue(store)
    (job_id,) = _submit(queue, tmp_path)
    (asset,) = store.list("assets/characters/")
    store.put(asset, b"replaced by someone")
    _run(store, tmp_path, {"render": _writes_one_image})
    status = queue.status(job_id)
    assert status is not None and status.state == "failed" and "corrupt" in status.error and status.attempts == 1


def test_stop_request_releases_the_running_job(store: ObjectStore, tmp_path: Path) -> None:
    queue = JobQueue(store)
    (job_id,) = _submit(queue, tmp_path)
    stop = threading.Event()

    def interrupted(manifest: JobManifest, files: Mapping[str, Path], out_dir: Path, progress: ProgressCallback) -> None:
        progress(1, 10)
        stop.set()
        progress(2, 10)

    events = _run(store, tmp_path, {"render": interrupted}, stop)
    assert [event["event"] for event in events][-2:] == ["job_released", "agent_stopped"]
    status = queue.status(job_id)
    assert status is not None and status.state == "pending" and status.attempts == 0
    _run(store, tmp_path, {"render": _writes_one_image})
    status = queue.status(job_id)
    assert status is not None and status.state == "completed" and status.attempts == 1


@pytest.mark.parametrize("store", ["local"], indirect=True)
def test_workspace_keeps_recent_and_running_jobs_and_removes_old_finished_ones(store: ObjectStore, tmp_path: Path) -> None:
    jobs = tmp_path / "ws" / "jobs"
    for name, finished_age in (("old", 25 * 3600), ("recent", 3600), ("running", None)):
        (jobs / name / "output").mkdir(parents=True)
        if finished_age is not None:
            marker = jobs / name / ".finished"
            marker.touch()
            os.utime(marker, (time.time() - finished_age, time.time() - finished_age))
    events = _run(store, tmp_path, {"render": _writes_one_image})
    assert sorted(path.name for path in jobs.iterdir()) == ["recent", "running"]
    assert any(event["event"] == "workspace_cleaned" for event in events)


def test_a_stop_the_renderer_reports_as_a_character_failure_still_releases_the_job(store: ObjectStore, tmp_path: Path) -> None:
    """render_dataset turns any exception of a character (the progress callback's included) into a failure entry."""
    from pose_factory_addon.core.errors import RenderError

    queue = JobQueue(store)
    (job_id,) = _submit(queue, tmp_path)
    stop = threading.Event()

    def swallowing(manifest: JobManifest, files: Mapping[str, Path], out_dir: Path, progress: ProgressCallback) -> None:
        stop.set()
        try:
            progress(1, 10)
        except Exception as error:
            raise RenderError(f"Hero: {type(error).__name__}: {error}") from None

    events = _run(store, tmp_path, {"render": swallowing}, stop)
    assert [event["event"] for event in events][-2:] == ["job_released", "agent_stopped"]
    status = queue.status(job_id)
    assert status is not None and status.state == "pending" and status.attempts == 0
