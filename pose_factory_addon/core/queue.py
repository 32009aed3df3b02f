"""The job queue protocol (DESIGN.md §3), written once over :class:`ObjectStore`.

Keys::

    jobs/pending/<job_id>.json      the manifest; stays until the job reaches a final state
    jobs/processing/<job_id>.json   the lease {worker_id, attempt, expires_at, released}
    jobs/status/<job_id>.json       {state, attempts, progress {done, total}, error, worker, times}
    jobs/rejected/<name>.json       a pending file without a usable job id, moved aside
    results/<job_id>/...            outputs; results/<job_id>/_complete.json is written last
    assets/characters/<sha256>.<ext>
    assets/motions/<sha256>.bvh     motion files a job retargets (library motions need none)

A worker claims a job by creating its lease with ``put_if_absent``; it renews the lease and
takes over an expired one with ``put_if_match``, so exactly one worker holds a job at a time.
The attempt counter grows with every claim. ``_complete.json`` (every result file's size and
SHA-256) is created with ``put_if_absent`` after the files are uploaded and is the only
proof of completion, so a job completes exactly once even when workers race. Final states
(``completed``, ``failed``, ``cancelled``) are sticky; status changes are compare-and-swap.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from . import defaults
from .config import Settings
from .errors import ManifestError, PoseFactoryError, QueueError, StoreError
from .manifest import (
    CHARACTER_EXTENSIONS,
    MOTION_EXTENSIONS,
    CharacterRef,
    JobManifest,
    MotionRef,
    manifest_from_json,
    validate_job_id,
)
from .security import resolve_under, safe_slug
from .store import ObjectStore, is_valid_key, open_store, sha256_file, validate_key

PENDING: Final = "jobs/pending/"
PROCESSING: Final = "jobs/processing/"
STATUS: Final = "jobs/status/"
REJECTED: Final = "jobs/rejected/"
RESULTS: Final = "results/"
CHARACTER_ASSETS: Final = "assets/characters/"
COMPLETE_NAME: Final = "_complete.json"
FINAL_STATES: Final = frozenset({"completed", "failed", "cancelled"})
_STATUS_RETRIES = 100
_PROGRESS_INTERVAL_S = 0.5


class LeaseLost(QueueError):
    """Another worker took the job over (this worker's lease expired); stop working on it."""


class JobCancelled(QueueError):
    """The job was cancelled while this worker held it."""


class PermanentJobError(PoseFactoryError):
    """A job that can never succeed as submitted (bad manifest, missing asset, unsupported type)."""


def _now() -> float:
    return time.time()


def iso_time(seconds: float) -> str:
    """UTC ISO-8601 with a ``Z`` suffix, to the second."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _json_bytes(data: Any) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True).encode("utf-8")


def pending_key(job_id: str) -> str:
    return f"{PENDING}{job_id}.json"


def lease_key(job_id: str) -> str:
    return f"{PROCESSING}{job_id}.json"


def status_key(job_id: str) -> str:
    return f"{STATUS}{job_id}.json"


def results_prefix(job_id: str) -> str:
    return f"{RESULTS}{job_id}/"


def complete_key(job_id: str) -> str:
    return f"{RESULTS}{job_id}/{COMPLETE_NAME}"


@dataclass(frozen=True)
class JobStatus:
    """What ``jobs/status/<job_id>.json`` holds; times are ISO-8601 UTC strings."""

    job_id: str
    job_type: str
    state: str
    attempts: int = 0
    max_attempts: int = defaults.MAX_ATTEMPTS
    progress: dict[str, int] = field(default_factory=lambda: {"done": 0, "total": 0})
    error: str = ""
    worker: str = ""
    created_at: str = ""
    updated_at: str = ""
    started_at: str = ""
    finished_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> JobStatus:
        if not isinstance(data, dict):
            raise QueueError("job status is not a JSON object")
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        progress = known.get("progress")
        if not isinstance(progress, dict):
            known["progress"] = {"done": 0, "total": 0}
        return cls(**known)


def _parse_status(data: bytes) -> JobStatus | None:
    try:
        return JobStatus.from_dict(json.loads(data))
    except (ValueError, TypeError, QueueError):
        return None


@dataclass(frozen=True)
class _LeaseRecord:
    job_id: str
    worker_id: str
    attempt: int
    claimed_at: float
    expires_at: float
    released: bool = False

    def to_bytes(self) -> bytes:
        return _json_bytes(asdict(self))

    @classmethod
    def parse(cls, data: bytes) -> _LeaseRecord | None:
        try:
            raw = json.loads(data)
            return cls(
                job_id=str(raw["job_id"]),
                worker_id=str(raw["worker_id"]),
                attempt=int(raw["attempt"]),
                claimed_at=float(raw["claimed_at"]),
                expires_at=float(raw["expires_at"]),
                released=bool(raw.get("released", False)),
            )
        except (ValueError, TypeError, KeyError):
            return None


@dataclass(frozen=True)
class ResultFile:
    """One entry of ``_complete.json``: a path relative to the job's results, bytes, SHA-256."""

    path: str
    size: int
    sha256: str


def character_ref_for(path: Path) -> CharacterRef:
    """The content-addressed reference of a local character file (name from the file stem)."""
    ext = path.suffix.lower().lstrip(".")
    if ext not in CHARACTER_EXTENSIONS:
        raise ManifestError(f"{path.name}: unsupported character file type (use {', '.join(CHARACTER_EXTENSIONS)})")
    if not path.is_file():
        raise ManifestError(f"{path}: no such file")
    try:
        name = safe_slug(path.stem)
    except ValueError as error:
        raise ManifestError(f"{path.name}: {error}") from None
    return CharacterRef(name=name, sha256=sha256_file(path), ext=ext)


def motion_ref_for(path: Path) -> MotionRef:
    """The content-addressed reference of a local motion file (BVH; name from the file stem)."""
    ext = path.suffix.lower().lstrip(".")
    if ext not in MOTION_EXTENSIONS:
        raise ManifestError(f"{path.name}: unsupported motion file type (use {', '.join(MOTION_EXTENSIONS)})")
    if not path.is_file():
        raise ManifestError(f"{path}: no such file")
    try:
        name = safe_slug(path.stem)
    except ValueError as error:
        raise ManifestError(f"{path.name}: {error}") from None
    return MotionRef(name=name, sha256=sha256_file(path), ext=ext)


class JobQueue:
    """Submitter and worker operations of the protocol over one store."""

    def __init__(
        self,
        store: ObjectStore,
        max_attempts: int = defaults.MAX_ATTEMPTS,
        lease_seconds: float = defaults.LEASE_SECONDS,
        clock: Callable[[], float] = _now,
    ) -> None:
        self.store = store
        self.max_attempts = max_attempts
        self.lease_seconds = lease_seconds
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings, environ: Mapping[str, str] | None = None) -> JobQueue:
        """The queue on ``settings.store`` with its attempts and lease; credentials from ``environ`` (else the process's)."""
        return cls(open_store(settings.store, settings, environ), settings.max_attempts, settings.lease_seconds)

    # Submitter side ------------------------------------------------------------------

    def upload_character(self, path: Path) -> CharacterRef:
        """Upload a character file once, content-addressed; skipped when the hash is present."""
        ref = character_ref_for(path)
        if not self.store.exists(ref.asset_key):
            self.store.upload_file(ref.asset_key, path)
        return ref

    def upload_motion(self, path: Path) -> MotionRef:
        """Upload a motion file (BVH) once, content-addressed like characters; skipped when the hash is present."""
        ref = motion_ref_for(path)
        if not self.store.exists(ref.asset_key):
            self.store.upload_file(ref.asset_key, path)
        return ref

    def submit(self, manifest: JobManifest) -> JobStatus:
        """Queue a validated manifest; its status starts ``pending`` with 0 attempts."""
        job_id = validate_job_id(manifest.job_id)
        if self.store.put_if_absent(pending_key(job_id), manifest.to_json().encode("utf-8")) is None:
            raise QueueError(f"job {job_id} already exists")
        now = iso_time(self._clock())
        status = JobStatus(
            job_id=job_id,
            job_type=manifest.job_type,
            state="pending",
            max_attempts=self.max_attempts,
            created_at=manifest.created_at,
            updated_at=now,
        )
        self.store.put(status_key(job_id), _json_bytes(status.to_dict()))
        return status

    def status(self, job_id: str) -> JobStatus | None:
        """The job's status, or ``None`` if the store has never heard of it."""
        validate_job_id(job_id)
        stored = self.store.get(status_key(job_id))
        if stored is not None:
            parsed = _parse_status(stored.data)
            if parsed is not None:
                return parsed
        if self.store.exists(pending_key(job_id)):
            return JobStatus(job_id=job_id, job_type=job_id.split("_", 1)[0], state="pending", max_attempts=self.max_attempts)
        return None

    def list_jobs(self) -> list[JobStatus]:
        """Every job with a status (newest first), plus rejected pending files as state ``rejected``."""
        statuses: dict[str, JobStatus] = {}
        for key in self.store.list(STATUS):
            stored = self.store.get(key)
            parsed = _parse_status(stored.data) if stored is not None else None
            if parsed is not None:
                statuses[parsed.job_id] = parsed
        for key in self.store.list(PENDING):
            job_id = key[len(PENDING) :].removesuffix(".json")
            if job_id not in statuses:
                statuses[job_id] = JobStatus(job_id=job_id, job_type=job_id.split("_", 1)[0], state="pending")
        rejected = []
        for key in self.store.list(REJECTED):
            stored = self.store.get(key)
            record = json.loads(stored.data) if stored is not None else {}
            rejected.append(
                JobStatus(
                    job_id=key[len(REJECTED) :].removesuffix(".json"),
                    job_type="unknown",
                    state="rejected",
                    error=str(record.get("error", "")),
                    created_at=str(record.get("rejected_at", "")),
                    updated_at=str(record.get("rejected_at", "")),
                )
            )
        ordered = sorted(statuses.values(), key=lambda status: (status.created_at, status.job_id), reverse=True)
        return ordered + sorted(rejected, key=lambda status: status.job_id)

    def cancel(self, job_id: str) -> JobStatus:
        """Cancel a job that is not final; a running job stops at its next progress report."""
        validate_job_id(job_id)
        if self.status(job_id) is None:
            raise QueueError(f"no job {job_id} in {self.store.url}")
        now = self._now_iso()

        def change(current: JobStatus | None) -> JobStatus | None:
            if current is None:
                return JobStatus(
                    job_id=job_id, job_type=job_id.split("_", 1)[0], state="cancelled", updated_at=now, finished_at=now
                )
            if current.state in FINAL_STATES:
                raise QueueError(f"job {job_id} is already {current.state}")
            return replace(current, state="cancelled", updated_at=now, finished_at=now)

        status = self._update_status(job_id, change)
        if self.store.get(lease_key(job_id)) is None:
            self.store.delete(pending_key(job_id))
        return status

    def completion(self, job_id: str) -> list[ResultFile] | None:
        """The files ``_complete.json`` lists, or ``None`` if the job has not completed."""
        stored = self.store.get(complete_key(validate_job_id(job_id)))
        if stored is None:
            return None
        try:
            record = json.loads(stored.data)
            return [ResultFile(str(item["path"]), int(item["size"]), str(item["sha256"])) for item in record["files"]]
        except (ValueError, TypeError, KeyError) as error:
            raise QueueError(f"results/{job_id}/{COMPLETE_NAME} is malformed ({error})") from None

    def download_results(self, job_id: str, target: Path, force: bool = False) -> list[Path]:
        """Download a completed job's results into ``target``, verified against ``_complete.json``.

        Every listed path is checked to stay inside ``target`` before anything is written;
        files land in a hidden staging folder inside ``target`` and are moved in only after
        every size and SHA-256 matches, ``_complete.json`` last. Returns the written files.

        Raises:
            QueueError: not completed, a path escapes, a checksum differs, or ``target`` is
                not empty and ``force`` is false. Nothing is left behind in those cases.
        """
        files = self.completion(job_id)
        if files is None:
            current = self.status(job_id)
            state = current.state if current else "unknown"
            raise QueueError(f"job {job_id} has no completed results (state: {state})")
        target = Path(target).resolve()
        for item in files:
            try:
                validate_key(f"{results_prefix(job_id)}{item.path}")
                resolve_under(target, item.path)
            except (StoreError, ValueError) as error:
                raise QueueError(f"refusing to download job {job_id}: listed path {item.path!r} is unsafe ({error})") from None
            if item.path == COMPLETE_NAME:
                raise QueueError(f"refusing to download job {job_id}: {COMPLETE_NAME} lists itself")
        if target.exists() and any(target.iterdir()) and not force:
            raise QueueError(f"{target} is not empty; use --force to overwrite")
        created = not target.exists()
        try:
            target.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=target))
        except OSError as error:
            raise QueueError(f"cannot create {target}: {error.strerror}") from None
        try:
            for item in files:
                local = resolve_under(staging, item.path)
                self.store.download_file(f"{results_prefix(job_id)}{item.path}", local)
                size = local.stat().st_size
                digest = sha256_file(local)
                if size != item.size or digest != item.sha256:
                    raise QueueError(
                        f"checksum mismatch for {item.path} of job {job_id}: expected {item.size} bytes "
                        f"sha256 {item.sha256[:12]}..., got {size} bytes sha256 {digest[:12]}...; nothing was written to {target}"
                    )
            self.store.download_file(complete_key(job_id), staging / COMPLETE_NAME)
            written = []
            for item in files:
                destination = resolve_under(target, item.path)
                destination.parent.mkdir(parents=True, exist_ok=True)
                os.replace(resolve_under(staging, item.path), destination)
                written.append(destination)
            os.replace(staging / COMPLETE_NAME, target / COMPLETE_NAME)
            return [*written, target / COMPLETE_NAME]
        except OSError as error:
            raise QueueError(f"cannot write the results of job {job_id} to {target}: {error}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            if created and target.is_dir() and not any(target.iterdir()):
                target.rmdir()

    # Worker side ---------------------------------------------------------------------

    def held_leases(self) -> dict[str, str]:
        """``{job_id: worker_id}`` of every lease that a worker holds now (not released, not expired)."""
        now = self._clock()
        held = {}
        for key in self.store.list(PROCESSING):
            stored = self.store.get(key)
            record = _LeaseRecord.parse(stored.data) if stored is not None else None
            if record is not None and not record.released and record.expires_at > now:
                held[record.job_id] = record.worker_id
        return held

    def pending_keys(self) -> list[str]:
        """Keys under ``jobs/pending/``, oldest job id first."""
        return self.store.list(PENDING)

    def claim(self, key: str, worker_id: str) -> Lease | None:
        """Try to take the job stored at ``key``; ``None`` when it is not available to us.

        Also finishes the bookkeeping nobody else will: a pending file without a valid job id
        is moved to ``jobs/rejected/``; an invalid manifest, a job past ``max_attempts`` or an
        already final job is marked and removed from ``jobs/pending/``.
        """
        if not key.startswith(PENDING):
            return None
        job_id = key[len(PENDING) :].removesuffix(".json")
        try:
            if not key.endswith(".json") or "/" in job_id:
                raise ManifestError(f"{key!r} is not named jobs/pending/<job_id>.json")
            validate_job_id(job_id)
        except ManifestError as error:
            self._reject(key, str(error))
            return None
        record = self._take_lease(job_id, worker_id)
        if record is None:
            return None
        lease, previous, status = record
        if self.store.exists(complete_key(job_id)):
            self._finish(lease, "completed", "", keep_error=True)
            return None
        if status is not None and status.state in FINAL_STATES:
            lease.drop()
            return None
        if lease.attempt > self.max_attempts:
            last = (status.error if status else "") or (
                f"worker {previous.worker_id} stopped responding (lease expired)" if previous else "lease expired"
            )
            self._finish(lease, "failed", f"gave up after {self.max_attempts} attempts; last error: {last}")
            return None
        stored = self.store.get(key)
        if stored is None:
            lease.drop()
            return None
        try:
            manifest = manifest_from_json(stored.data)
            if manifest.job_id != job_id:
                raise ManifestError(f"manifest job_id {manifest.job_id!r} does not match its key {job_id!r}")
        except ManifestError as error:
            self._finish(lease, "failed", f"invalid manifest: {error}")
            return None
        lease.manifest = manifest
        lease.taken_over_from = previous.worker_id if previous is not None and not previous.released else ""
        started = iso_time(self._clock())

        def change(current: JobStatus | None) -> JobStatus | None:
            if current is not None and current.state in FINAL_STATES:
                return None
            base = current or JobStatus(
                job_id=job_id, job_type=manifest.job_type, state="pending", created_at=manifest.created_at
            )
            return replace(
                base,
                state="processing",
                attempts=lease.attempt,
                max_attempts=self.max_attempts,
                worker=worker_id,
                started_at=started,
                updated_at=started,
            )

        if self._update_status(job_id, change).state != "processing":
            lease.drop()
            return None
        return lease

    def _take_lease(self, job_id: str, worker_id: str) -> tuple[Lease, _LeaseRecord | None, JobStatus | None] | None:
        """Create or take over the job's lease; a live lease costs one read and returns ``None``."""
        key = lease_key(job_id)
        now = self._clock()
        current = self.store.get(key)
        previous = _LeaseRecord.parse(current.data) if current is not None else None
        if previous is not None and previous.expires_at > now and not previous.released:
            return None
        status = self.status(job_id)
        if status is not None and status.state in FINAL_STATES and current is None:
            self.store.delete(pending_key(job_id))
            return None
        attempts_so_far = status.attempts if status else 0
        attempt = max(previous.attempt if previous else 0, attempts_so_far) + 1
        record = _LeaseRecord(job_id, worker_id, attempt, now, now + self.lease_seconds)
        if current is None:
            etag = self.store.put_if_absent(key, record.to_bytes())
        else:
            etag = self.store.put_if_match(key, record.to_bytes(), current.etag)
        if etag is None:
            return None
        return Lease(self, record, etag), previous, status

    def _reject(self, key: str, reason: str) -> None:
        stored = self.store.get(key)
        if stored is None:
            return
        stem = key[len(PENDING) :].removesuffix(".json")
        try:
            name = safe_slug(stem, max_length=48)
        except ValueError:
            name = "unnamed"
        name = f"{name}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:8]}"
        record = {
            "key": key,
            "error": f"rejected: {reason}",
            "rejected_at": iso_time(self._clock()),
            "content": stored.data[:4096].decode("utf-8", errors="replace"),
        }
        self.store.put(f"{REJECTED}{name}.json", _json_bytes(record))
        self.store.delete(key)

    def _now_iso(self) -> str:
        return iso_time(self._clock())

    def _update_status(self, job_id: str, change: Callable[[JobStatus | None], JobStatus | None]) -> JobStatus:
        """Read-modify-write the status with compare-and-swap; ``change`` returns ``None`` to keep it."""
        key = status_key(job_id)
        for _ in range(_STATUS_RETRIES):
            stored = self.store.get(key)
            current = _parse_status(stored.data) if stored is not None else None
            updated = change(current)
            if updated is None:
                if current is None:
                    raise QueueError(f"job {job_id} has no status")
                return current
            data = _json_bytes(updated.to_dict())
            etag = self.store.put_if_absent(key, data) if stored is None else self.store.put_if_match(key, data, stored.etag)
            if etag is not None:
                return updated
        raise QueueError(f"the status of job {job_id} kept changing; gave up updating it")

    def _finish(self, lease: Lease, state: str, error: str, keep_error: bool = False) -> JobStatus:
        """Put a job into a final state and remove its pending manifest and lease."""
        job_id = lease.job_id
        now = self._now_iso()

        def change(current: JobStatus | None) -> JobStatus | None:
            if (
                current is not None
                and current.state in FINAL_STATES
                and not (state == "completed" and current.state != "completed")
            ):
                return None
            base = current or JobStatus(job_id=job_id, job_type=job_id.split("_", 1)[0], state=state)
            progress = dict(base.progress)
            if state == "completed":
                progress["done"] = max(progress.get("done", 0), progress.get("total", 0))
            return replace(
                base,
                state=state,
                attempts=max(base.attempts, min(lease.attempt, self.max_attempts) if state == "failed" else lease.attempt),
                max_attempts=self.max_attempts,
                error=base.error if keep_error or not error else error,
                progress=progress,
                worker=lease.worker_id,
                updated_at=now,
                finished_at=now,
            )

        status = self._update_status(job_id, change)
        self.store.delete(pending_key(job_id))
        self.store.delete(lease_key(job_id))
        return status


class Lease:
    """A worker's hold on one job: renew it, report progress, then complete, fail or release it.

    Thread-safe: a heartbeat thread may call :meth:`renew` while the job runs.
    """

    def __init__(self, queue: JobQueue, record: _LeaseRecord, etag: str) -> None:
        self.queue = queue
        self.job_id = record.job_id
        self.worker_id = record.worker_id
        self.attempt = record.attempt
        self.manifest: JobManifest | None = None
        self.taken_over_from = ""
        self.lost = False
        self.cancelled = False
        self._record = record
        self._etag = etag
        self._lock = threading.Lock()
        self._last_progress = 0.0
        self._renewed_at = time.monotonic()

    def renew(self, check_cancelled: bool = True) -> None:
        """Extend the lease by ``lease_seconds``; with ``check_cancelled``, also notices cancellation.

        Raises:
            LeaseLost: another worker holds the job now.
            JobCancelled: the job was cancelled.
        """
        with self._lock:
            if self.lost:
                raise LeaseLost(f"job {self.job_id}: lease lost to another worker")
            record = replace(self._record, expires_at=self.queue._clock() + self.queue.lease_seconds)
            etag = self.queue.store.put_if_match(lease_key(self.job_id), record.to_bytes(), self._etag)
            if etag is None:
                self.lost = True
                raise LeaseLost(f"job {self.job_id}: lease lost to another worker (attempt {self.attempt} expired)")
            self._record, self._etag = record, etag
            self._renewed_at = time.monotonic()
        if not check_cancelled:
            return
        status = self.queue.status(self.job_id)
        if status is not None and status.state == "cancelled":
            self.cancelled = True
            raise JobCancelled(f"job {self.job_id} was cancelled")

    def renew_if_due(self) -> None:
        """Renew when a third of the lease has passed since the last renewal.

        Called between images, so a worker whose heartbeat thread is starved (a render that
        holds the GIL) still keeps its lease as long as no single image outlasts it.
        """
        if time.monotonic() - self._renewed_at >= self.queue.lease_seconds / 3.0:
            self.renew()

    def report_progress(self, done: int, total: int) -> None:
        """Record ``done`` of ``total`` images (throttled to one write per 0.5 s, except the last)."""
        now = time.monotonic()
        if done < total and now - self._last_progress < _PROGRESS_INTERVAL_S:
            return
        self._last_progress = now
        now_iso = self.queue._now_iso()

        def change(current: JobStatus | None) -> JobStatus | None:
            if current is None or current.state != "processing" or current.worker != self.worker_id:
                return None
            return replace(current, progress={"done": int(done), "total": int(total)}, updated_at=now_iso)

        self.queue._update_status(self.job_id, change)

    def complete(self, result_dir: Path) -> bool:
        """Upload every file under ``result_dir``, then commit with ``_complete.json``.

        Returns True if this worker's commit is the one that counts (False if another
        worker had already committed the job).

        Raises:
            LeaseLost, JobCancelled: the lease is no longer ours; nothing was committed.
            QueueError: a result file name is not a safe key.
        """
        prefix = results_prefix(self.job_id)
        paths = sorted(path for path in Path(result_dir).rglob("*") if path.is_file() and not path.is_symlink())
        entries: list[tuple[str, Path]] = []
        for path in paths:
            relative = path.relative_to(result_dir).as_posix()
            if relative == COMPLETE_NAME or not is_valid_key(prefix + relative):
                raise QueueError(f"job {self.job_id}: result file name {relative!r} is not allowed")
            entries.append((relative, path))
        self.renew()
        files = []
        for relative, path in entries:
            self.queue.store.upload_file(prefix + relative, path)
            files.append(asdict(ResultFile(relative, path.stat().st_size, sha256_file(path))))
        self.renew(check_cancelled=False)
        record = {
            "job_id": self.job_id,
            "worker_id": self.worker_id,
            "attempt": self.attempt,
            "completed_at": iso_time(self.queue._clock()),
            "files": files,
        }
        won = self.queue.store.put_if_absent(complete_key(self.job_id), _json_bytes(record)) is not None
        self.queue._finish(self, "completed", "", keep_error=True)
        return won

    def fail(self, error: str, retry: bool) -> JobStatus:
        """Record a failed attempt: back to ``pending`` while attempts remain and ``retry``, else ``failed``."""
        if not retry or self.attempt >= self.queue.max_attempts:
            return self.queue._finish(self, "failed", error)
        return self._give_back("pending", error, self.attempt)

    def release(self, reason: str) -> JobStatus:
        """Give the job back untouched (shutdown): the next claim reuses this attempt number."""
        return self._give_back("pending", reason, self.attempt - 1)

    def drop(self) -> None:
        """Remove the pending manifest and lease of a job that is already final."""
        self.queue.store.delete(pending_key(self.job_id))
        self.queue.store.delete(lease_key(self.job_id))

    def _give_back(self, state: str, error: str, attempts: int) -> JobStatus:
        now = self.queue._now_iso()

        def change(current: JobStatus | None) -> JobStatus | None:
            if current is not None and current.state in FINAL_STATES:
                return None
            base = current or JobStatus(job_id=self.job_id, job_type=self.job_id.split("_", 1)[0], state=state)
            return replace(base, state=state, attempts=attempts, error=error, worker="", updated_at=now)

        with self._lock:
            record = replace(self._record, attempt=attempts, expires_at=0.0, released=True)
            if self.queue.store.put_if_match(lease_key(self.job_id), record.to_bytes(), self._etag) is None:
                self.lost = True
                raise LeaseLost(f"job {self.job_id}: lease lost before it could be released")
        status = self.queue._update_status(self.job_id, change)
        if status.state == "cancelled":
            self.drop()
        return status


def fetch_character(store: ObjectStore, ref: CharacterRef, cache_dir: Path) -> Path:
    """The local copy of a character asset, downloaded once and verified by SHA-256.

    Cached as ``<cache_dir>/<sha256>.<ext>``; a cached file whose hash no longer matches is
    downloaded again.

    Raises:
        PermanentJobError: the asset is missing from the store or its content has another hash.
    """
    return _fetch_verified(store, ref.asset_key, ref.sha256, ref.ext, f"character {ref.name}", cache_dir)


def fetch_motion(store: ObjectStore, ref: MotionRef, cache_dir: Path) -> Path:
    """The local copy of a motion asset (a BVH file), exactly as :func:`fetch_character` fetches characters."""
    return _fetch_verified(store, ref.asset_key, ref.sha256, ref.ext, f"motion {ref.name}", cache_dir)


def _fetch_verified(store: ObjectStore, asset_key: str, sha256: str, ext: str, what: str, cache_dir: Path) -> Path:
    local = resolve_under(cache_dir, f"{sha256}.{ext}")
    if local.is_file() and sha256_file(local) == sha256:
        return local
    if not store.exists(asset_key):
        raise PermanentJobError(f"{what}: asset {asset_key} is missing from the store")
    store.download_file(asset_key, local)
    digest = sha256_file(local)
    if digest != sha256:
        local.unlink(missing_ok=True)
        raise PermanentJobError(f"{what}: asset {asset_key} is corrupt (its sha256 is {digest})")
    return local
