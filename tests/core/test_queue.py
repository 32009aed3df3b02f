"""The queue protocol (leases, attempts, completion, rejection, download), on LocalStore and S3Store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
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


def submit_job(queue: JobQueue, character: Path, now: datetime | None = None) -> JobManifest:
    ref = queue.upload_character(character)
    params = RenderParams(characters=(ref,), angles=1, preset="preview", resolution=(64, 64))
    manifest = new_render_manifest(params, now)
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


def test_claim_complete_and_download(queue: JobQueue, store: ObjectStore, clock: Clock, character: Path, tmp_path: Path) -> None:
    manifest = submit_job(queue, character)
    lease = queue.claim(pending_key(manifest.job_id), "worker-a")
    assert lease is not None and lease.attempt == 1 and lease.manifest == manifest
    assert queue.claim(pending_key(manifest.job_id), "worker-b") is None
    lease.report_progress(1, 2)
    assert queue.status(manifest.job_id).progress == {"done": 0, "total": 0}, "at most one lease write per 0.5 s"  # type: ignore[union-attr]
    clock.now += 1
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


class CountingStore(ObjectStore):
    """Any store, counting the object reads a caller makes (``get`` and ``exists``)."""

    def __init__(self, inner: ObjectStore) -> None:
        self.inner = inner
        self.url = inner.url
        self.reads = 0

    def get(self, key: str):  # type: ignore[no-untyped-def]
        self.reads += 1
        return self.inner.get(key)

    def exists(self, key: str) -> bool:
        self.reads += 1
        return self.inner.exists(key)

    def put(self, key: str, data: bytes) -> str:
        return self.inner.put(key, data)

    def put_if_absent(self, key: str, data: bytes) -> str | None:
        return self.inner.put_if_absent(key, data)

    def put_if_match(self, key: str, data: bytes, etag: str) -> str | None:
        return self.inner.put_if_match(key, data, etag)

    def list(self, prefix: str, limit: int | None = None) -> list[str]:
        return self.inner.list(prefix, limit)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def upload_file(self, key: str, path) -> str:  # type: ignore[no-untyped-def]
        return self.inner.upload_file(key, path)

    def download_file(self, key: str, path) -> None:  # type: ignore[no-untyped-def]
        self.inner.download_file(key, path)


def _jobs_in_every_state(queue: JobQueue, clock: Clock, character: Path, tmp_path: Path) -> dict[str, str]:
    """Two completed, one failed, one cancelled, one processing, one given back after a failure, two pending."""
    ids: dict[str, str] = {}
    for name in ("done-1", "done-2", "failed", "cancelled", "running", "retrying", "pending-1", "pending-2"):
        ids[name] = submit_job(queue, character, datetime.fromtimestamp(clock.now, UTC)).job_id
        clock.now += 1
    for name in ("done-1", "done-2"):
        lease = queue.claim(pending_key(ids[name]), "worker-a")
        assert lease is not None
        lease.complete(write_results(tmp_path / name))
    failing = queue.claim(pending_key(ids["failed"]), "worker-b")
    assert failing is not None
    failing.fail("character import failed", retry=False)
    queue.cancel(ids["cancelled"])
    running = queue.claim(pending_key(ids["running"]), "worker-c")
    assert running is not None
    clock.now += 1
    running.report_progress(3, 8)
    retrying = queue.claim(pending_key(ids["retrying"]), "worker-d")
    assert retrying is not None
    retrying.fail("out of memory", retry=True)
    return ids


def test_listing_reads_objects_only_for_running_and_failed_jobs(
    queue: JobQueue, store: ObjectStore, clock: Clock, character: Path, tmp_path: Path
) -> None:
    ids = _jobs_in_every_state(queue, clock, character, tmp_path)
    counting = CountingStore(store)
    listing = JobQueue(counting, max_attempts=3, lease_seconds=10.0, clock=clock)
    jobs = {job.job_id: job for job in listing.list_jobs()}
    expected = {
        "done-1": "completed",
        "done-2": "completed",
        "failed": "failed",
        "cancelled": "cancelled",
        "running": "processing",
        "retrying": "pending",
        "pending-1": "pending",
        "pending-2": "pending",
    }
    assert {name: jobs[job_id].state for name, job_id in ids.items()} == expected
    assert counting.reads == 3, "one read per running or given-back job (progress) and per failed job (error)"
    assert jobs[ids["done-1"]].attempts == 1 and jobs[ids["done-1"]].worker == "worker-a"
    assert jobs[ids["done-1"]].progress == {"done": 0, "total": 0}
    assert jobs[ids["failed"]].error == "character import failed"
    assert jobs[ids["running"]].progress == {"done": 3, "total": 8} and jobs[ids["running"]].worker == "worker-c"
    assert jobs[ids["retrying"]].attempts == 1 and jobs[ids["retrying"]].error == "out of memory"
    assert [job.job_id for job in listing.list_jobs()] == sorted(ids.values(), reverse=True), "newest first"
    for name, job_id in ids.items():
        single = queue.status(job_id)
        assert single is not None and single.state == expected[name], name


def test_listing_filters_by_state_time_and_count(queue: JobQueue, clock: Clock, character: Path, tmp_path: Path) -> None:
    ids = _jobs_in_every_state(queue, clock, character, tmp_path)
    assert {job.job_id for job in queue.list_jobs(states=["completed"])} == {ids["done-1"], ids["done-2"]}
    assert {job.job_id for job in queue.list_jobs(states=["pending", "failed"])} == {
        ids["failed"],
        ids["retrying"],
        ids["pending-1"],
        ids["pending-2"],
    }
    newest_two = queue.list_jobs(limit=2)
    assert [job.job_id for job in newest_two] == [ids["pending-2"], ids["pending-1"]]
    since = queue.status(ids["running"]).created_at  # type: ignore[union-attr]
    assert {job.job_id for job in queue.list_jobs(since=since)} >= {ids["running"], ids["pending-2"]}
    assert ids["done-1"] not in {job.job_id for job in queue.list_jobs(since="2999-01-01T00:00:00Z")}
    with pytest.raises(QueueError, match="unknown state"):
        queue.list_jobs(states=["finished"])


def test_completed_wins_over_a_late_cancel_and_old_status_objects_are_read(
    queue: JobQueue, store: ObjectStore, character: Path, tmp_path: Path
) -> None:
    manifest = submit_job(queue, character)
    lease = queue.claim(pending_key(manifest.job_id), "worker")
    assert lease is not None
    queue.cancel(manifest.job_id)
    assert lease.complete(write_results(tmp_path / "out")) is True, "the commit counts even after a cancel"
    assert queue.status(manifest.job_id).state == "completed"  # type: ignore[union-attr]
    assert [job.state for job in queue.list_jobs()] == ["completed"]
    with pytest.raises(QueueError, match="already completed"):
        queue.cancel(manifest.job_id)

    old = "render_20240101_000000_0123abcd"
    store.put(
        f"jobs/status/{old}.json", json.dumps({"job_id": old, "job_type": "render", "state": "failed", "error": "x"}).encode()
    )
    status = queue.status(old)
    assert status is not None and status.state == "failed" and status.error == "x"
    assert {job.job_id: job.state for job in queue.list_jobs()}[old] == "failed"


def test_agents_defer_lease_deletion_until_flushed(queue: JobQueue, store: ObjectStore, character: Path, tmp_path: Path) -> None:
    queue.defer_lease_cleanup = True
    manifest = submit_job(queue, character)
    lease = queue.claim(pending_key(manifest.job_id), "worker")
    assert lease is not None and lease.complete(write_results(tmp_path / "out"))
    assert store.list("jobs/pending/") == [] and store.list("jobs/processing/") == [lease_key(manifest.job_id)]
    assert queue.claim(pending_key(manifest.job_id), "late-worker") is None, "a leftover lease is not work"
    assert queue.status(manifest.job_id).state == "completed"  # type: ignore[union-attr]
    assert queue.flush_leases() == 1 and store.list("jobs/processing/") == []


@pytest.mark.parametrize("store", ["s3"], indirect=True)
def test_a_job_costs_at_most_eight_requests_end_to_end(store: ObjectStore, character: Path, tmp_path: Path) -> None:
    """Submit, poll, claim, one result file, commit, finish: the path every no-render job takes."""
    queue = JobQueue(store)
    ref = queue.upload_character(character)
    worker = JobQueue(store)
    worker.defer_lease_cleanup = True
    before = store.requests_sent
    manifest = new_render_manifest(RenderParams(characters=(ref,), angles=1, preset="preview", resolution=(64, 64)))
    queue.submit(manifest)
    (key,) = worker.pending_keys(64)
    lease = worker.claim(key, "worker")
    assert lease is not None
    lease.report_progress(1, 1)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "result.txt").write_text("done")
    assert lease.complete(tmp_path / "out")
    assert store.requests_sent - before <= 8
    assert queue.status(manifest.job_id).state == "completed"  # type: ignore[union-attr]


def test_status_since_accepts_ages_and_timestamps() -> None:
    from pose_factory_addon.commands.status import since_time
    from pose_factory_addon.core.errors import UsageError

    now = 1_800_000_000.0
    assert since_time("90s", now) == "2027-01-15T07:58:30Z"
    assert since_time("2d", now) == "2027-01-13T08:00:00Z"
    assert since_time("2027-01-15T08:00:00Z", now) == "2027-01-15T08:00:00Z"
    assert since_time("2027-01-15T10:00:00+02:00", now) == "2027-01-15T08:00:00Z"
    with pytest.raises(UsageError, match="--since"):
        since_time("yesterday", now)
