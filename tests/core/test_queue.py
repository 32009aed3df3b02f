"""The queue protocol (leases, attempts, completion, rejection, download), on LocalStore and S3Store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pose_factory_addon.core.errors import ManifestError, QueueError
from pose_factory_addon.core.manifest import JobManifest, RenderParams, new_render_manifest
from pose_factory_addon.core.queue import (
    JobQueue,
    LeaseLost,
    PermanentJobError,
    complete_key,
    fetch_character,
    lease_key,
    pending_key,
)
from pose_factory_addon.core.store import ObjectStore, sha256_file


class Clock:
    """A hand-driven clock (seconds) so lease expiry needs no sleeping."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def queue(store: ObjectStore, clock: Clock) -> JobQueue:
    return JobQueue(store, max_attempts=3, lease_seconds=10.0, clock=clock)


@pytest.fixture
def character(tmp_path: Path) -> Path:
    path = tmp_path / "X Bot.fbx"
    path.write_bytes(b"Kaydara FBX Binary  \x00 pretend character")
    return path


def submit_job(queue: JobQueue, character: Path) -> JobManifest:
    ref = queue.upload_character(character)
    manifest = new_render_manifest(RenderParams(characters=(ref,), angles=1, preset="preview", resolution=(64, 64)))
    queue.submit(manifest)
    return manifest


def write_results(folder: Path) -> Path:
    (folder / "X_Bot").mkdir(parents=True)
    (folder / "X_Bot" / "front.png").write_bytes(b"\x89PNG pretend image")
    (folder / "dataset.json").write_text('{"failures": []}')
    return folder


def test_submit_uploads_character_once_and_queues_pending(queue: JobQueue, store: ObjectStore, character: Path) -> None:
    first = submit_job(queue, character)
    second = submit_job(queue, character)
    assert store.list("assets/characters/") == [f"assets/characters/{sha256_file(character)}.fbx"]
    assert first.params.characters[0].name == "X_Bot"  # type: ignore[union-attr]
    assert sorted(store.list("jobs/pending/")) == sorted([pending_key(first.job_id), pending_key(second.job_id)])
    status = queue.status(first.job_id)
    assert status is not None and status.state == "pending" and status.attempts == 0
    with pytest.raises(QueueError, match="already exists"):
        queue.submit(first)


def test_claim_complete_and_download(queue: JobQueue, store: ObjectStore, character: Path, tmp_path: Path) -> None:
    manifest = submit_job(queue, character)
    lease = queue.claim(pending_key(manifest.job_id), "worker-a")
    assert lease is not None and lease.attempt == 1 and lease.manifest == manifest
    assert queue.claim(pending_key(manifest.job_id), "worker-b") is None
    lease.report_progress(1, 1)
    status = queue.status(manifest.job_id)
    assert (
        status is not None
        and status.state == "processing"
        and status.worker == "worker-a"
        and status.progress == {"done": 1, "total": 1}
    )

    assert lease.complete(write_results(tmp_path / "out")) is True
    status = queue.status(manifest.job_id)
    assert status is not None and status.state == "completed" and status.attempts == 1
    assert store.list("jobs/pending/") == [] and store.list("jobs/processing/") == []
    stored = store.get(complete_key(manifest.job_id))
    assert stored is not None
    record = json.loads(stored.data)
    assert {entry["path"] for entry in record["files"]} == {"X_Bot/front.png", "dataset.json"}
    assert all(len(entry["sha256"]) == 64 and entry["size"] > 0 for entry in record["files"])

    written = queue.download_results(manifest.job_id, tmp_path / "download")
    assert (tmp_path / "download" / "X_Bot" / "front.png").read_bytes() == b"\x89PNG pretend image"
    assert (tmp_path / "download" / "_complete.json") in written
    with pytest.raises(QueueError, match="not empty"):
        queue.download_results(manifest.job_id, tmp_path / "download")
    queue.download_results(manifest.job_id, tmp_path / "download", force=True)


def test_expired_lease_is_taken_over_and_the_old_holder_cannot_commit(
    queue: JobQueue, store: ObjectStore, clock: Clock, character: Path, tmp_path: Path
) -> None:
    manifest = submit_job(queue, character)
    stale = queue.claim(pending_key(manifest.job_id), "worker-a")
    assert stale is not None
    clock.now += 5
    stale.renew()
    clock.now += 9
    assert queue.claim(pending_key(manifest.job_id), "worker-b") is None, "renewed lease must still be held"
    clock.now += 11
    fresh = queue.claim(pending_key(manifest.job_id), "worker-b")
    assert fresh is not None and fresh.attempt == 2 and fresh.taken_over_from == "worker-a"
    with pytest.raises(LeaseLost):
        stale.complete(write_results(tmp_path / "a"))
    assert store.get(complete_key(manifest.job_id)) is None
    assert fresh.complete(write_results(tmp_path / "b")) is True
    status = queue.status(manifest.job_id)
    assert status is not None and status.state == "completed" and status.attempts == 2 and status.worker == "worker-b"


def test_failures_retry_until_max_attempts(queue: JobQueue, clock: Clock, character: Path) -> None:
    manifest = submit_job(queue, character)
    for attempt in (1, 2):
        lease = queue.claim(pending_key(manifest.job_id), "worker")
        assert lease is not None and lease.attempt == attempt
        status = lease.fail(f"boom {attempt}", retry=True)
        assert status.state == "pending" and status.attempts == attempt and status.error == f"boom {attempt}"
    lease = queue.claim(pending_key(manifest.job_id), "worker")
    assert lease is not None and lease.attempt == 3
    status = lease.fail("boom 3", retry=True)
    assert status.state == "failed" and status.attempts == 3 and status.error == "boom 3"
    assert queue.claim(pending_key(manifest.job_id), "worker") is None
    assert queue.pending_keys() == []


def test_a_job_whose_workers_keep_dying_fails_after_max_attempts(queue: JobQueue, clock: Clock, character: Path) -> None:
    manifest = submit_job(queue, character)
    for attempt in (1, 2, 3):
        lease = queue.claim(pending_key(manifest.job_id), f"worker-{attempt}")
        assert lease is not None and lease.attempt == attempt
        clock.now += 11
    assert queue.claim(pending_key(manifest.job_id), "worker-4") is None
    status = queue.status(manifest.job_id)
    assert status is not None and status.state == "failed" and status.attempts == 3
    assert "worker-3 stopped responding" in status.error
    assert queue.pending_keys() == []


def test_permanent_failure_and_release(queue: JobQueue, character: Path) -> None:
    released = submit_job(queue, character)
    lease = queue.claim(pending_key(released.job_id), "worker")
    assert lease is not None
    assert lease.release("shutting down").state == "pending"
    again = queue.claim(pending_key(released.job_id), "worker")
    assert again is not None and again.attempt == 1, "a graceful release gives the attempt back"
    status = again.fail("character import failed", retry=False)
    assert status.state == "failed" and status.attempts == 1


def test_cancel(queue: JobQueue, store: ObjectStore, character: Path, tmp_path: Path) -> None:
    waiting = submit_job(queue, character)
    assert queue.cancel(waiting.job_id).state == "cancelled"
    assert pending_key(waiting.job_id) not in store.list("jobs/pending/")
    with pytest.raises(QueueError, match="already cancelled"):
        queue.cancel(waiting.job_id)
    with pytest.raises(QueueError, match="no job"):
        queue.cancel("render_20250101_000000_00000000")

    running = submit_job(queue, character)
    lease = queue.claim(pending_key(running.job_id), "worker")
    assert lease is not None
    queue.cancel(running.job_id)
    with pytest.raises(QueueError, match="cancelled"):
        lease.renew()
    lease.drop()
    assert queue.pending_keys() == [] and store.list("jobs/processing/") == []


def _drop_manifest(store: ObjectStore, key: str, data: dict[str, object]) -> None:
    store.put(key, json.dumps(data).encode())


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(script="evil.py"), "may not name code"),
        (lambda d: d["params"].update(script="evil.py"), "may not name code"),
        (lambda d: d.update(job_type="shell"), "unknown job_type"),
        (lambda d: d["params"]["characters"][0].update(name="../../etc"), "not a safe name"),
        (lambda d: d.update(job_id="../../x"), "invalid job id"),
    ],
    ids=["script", "params-script", "unknown-type", "traversal-name", "traversal-id"],
)
def test_hostile_manifests_fail_with_clear_errors(queue: JobQueue, store: ObjectStore, character: Path, change, expected) -> None:
    valid = submit_job(queue, character)
    data = json.loads(valid.to_json())
    change(data)
    store.put(pending_key(valid.job_id), json.dumps(data).encode())
    assert queue.claim(pending_key(valid.job_id), "worker") is None
    status = queue.status(valid.job_id)
    assert status is not None and status.state == "failed"
    assert status.error.startswith("invalid manifest:") and expected in status.error
    assert queue.pending_keys() == [] and store.list("jobs/processing/") == []


def test_pending_files_without_a_job_id_are_rejected_and_listed(queue: JobQueue, store: ObjectStore) -> None:
    store.put("jobs/pending/evil.json", json.dumps({"job_id": "../../x", "job_type": "render"}).encode())
    store.put("jobs/pending/notes.txt", b"hello")
    for key in queue.pending_keys():
        assert queue.claim(key, "worker") is None
    assert queue.pending_keys() == []
    rejected = [status for status in queue.list_jobs() if status.state == "rejected"]
    assert len(rejected) == 2
    assert all(status.error.startswith("rejected:") for status in rejected)
    assert any("evil" in status.job_id for status in rejected)


def test_download_refuses_escaping_paths_and_bad_checksums(
    queue: JobQueue, store: ObjectStore, character: Path, tmp_path: Path
) -> None:
    manifest = submit_job(queue, character)
    lease = queue.claim(pending_key(manifest.job_id), "worker")
    assert lease is not None
    lease.complete(write_results(tmp_path / "out"))
    stored = store.get(complete_key(manifest.job_id))
    assert stored is not None
    good = json.loads(stored.data)

    evil = dict(good, files=[*good["files"], {"path": "../../evil.txt", "size": 4, "sha256": "0" * 64}])
    store.put(complete_key(manifest.job_id), json.dumps(evil).encode())
    with pytest.raises(QueueError, match="unsafe"):
        queue.download_results(manifest.job_id, tmp_path / "dl" / "target")
    assert not (tmp_path / "dl" / "target").exists() and not (tmp_path / "evil.txt").exists()

    store.put(f"results/{manifest.job_id}/X_Bot/front.png", b"tampered")
    store.put(complete_key(manifest.job_id), json.dumps(good).encode())
    with pytest.raises(QueueError, match=r"checksum mismatch for X_Bot/front\.png"):
        queue.download_results(manifest.job_id, tmp_path / "dl" / "target")
    assert list((tmp_path / "dl").iterdir()) == []


def test_download_of_an_unfinished_job_says_so(queue: JobQueue, character: Path, tmp_path: Path) -> None:
    manifest = submit_job(queue, character)
    with pytest.raises(QueueError, match="no completed results"):
        queue.download_results(manifest.job_id, tmp_path / "dl")
    with pytest.raises(ManifestError, match="invalid job id"):
        queue.download_results("../../x", tmp_path / "dl")


def test_fetch_character_verifies_and_caches(queue: JobQueue, store: ObjectStore, character: Path, tmp_path: Path) -> None:
    ref = queue.upload_character(character)
    cache = tmp_path / "cache"
    local = fetch_character(store, ref, cache)
    assert local.read_bytes() == character.read_bytes() and local.name == f"{ref.sha256}.fbx"
    store.put(ref.asset_key, b"swapped content")
    assert fetch_character(store, ref, cache) == local, "a verified cached copy is reused"
    local.unlink()
    with pytest.raises(PermanentJobError, match="corrupt"):
        fetch_character(store, ref, cache)
    assert list(cache.iterdir()) == []
    store.delete(ref.asset_key)
    with pytest.raises(PermanentJobError, match="missing"):
        fetch_character(store, ref, cache)


def test_lease_record_names_worker_and_attempt(queue: JobQueue, store: ObjectStore, character: Path) -> None:
    manifest = submit_job(queue, character)
    assert queue.claim(pending_key(manifest.job_id), "worker-a") is not None
    stored = store.get(lease_key(manifest.job_id))
    assert stored is not None
    record = json.loads(stored.data)
    assert record["worker_id"] == "worker-a" and record["attempt"] == 1 and record["expires_at"] > record["claimed_at"]
