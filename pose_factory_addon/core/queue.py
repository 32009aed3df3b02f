"""The job queue protocol (DESIGN.md §3), written once over :class:`ObjectStore`.

Keys::

    jobs/pending/<job_id>.json      the manifest; removed when the job reaches a final state
    jobs/processing/<job_id>.json   the lease and live status {worker_id, attempt, expires_at, released,
                                    progress, error}
    jobs/status/<job_id>.<state>.<attempts>.<done>-<total>.<worker>.json
                                    the final status (completed, failed or cancelled), its state in the name
    jobs/rejected/<name>.json       a pending file without a usable job id, moved aside
    results/<job_id>/...            outputs; results/<job_id>/_complete.json is written last
    assets/characters/<sha256>.<ext>
    assets/motions/<sha256>.bvh     motion files a job retargets (library motions need none)

A job's state is visible from key names alone: a pending key without a lease is ``pending``, with
a lease it is ``processing`` (or ``pending`` again when the lease was released), and a final status
key names its final state. Listing every job therefore costs a few LIST requests, and reading one
object only for running jobs (their progress) and failed ones (their error).

A worker claims a job by creating its lease with ``put_if_absent``; it renews the lease, records
progress in it and takes over an expired one with ``put_if_match``, so exactly one worker holds a
job at a time. The attempt counter grows with every claim. ``_complete.json`` (every result file's
size and SHA-256) is created with ``put_if_absent`` after the files are uploaded and is the only
proof of completion, so a job completes exactly once even when workers race. Final states are
sticky: when several final keys exist, ``completed`` wins over ``cancelled``, which wins over
``failed``. A finished job's pending key is deleted before its lease, so a worker that creates a
lease can never read the manifest of a final job.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from . import defaults
from .config import Settings
from .errors import ManifestError, PoseFactoryError, QueueError, StoreError
from .manifest import (
    CHARACTER_EXTENSIONS,
    JOB_STATES,
    MOTION_EXTENSIONS,
    CharacterRef,
    JobManifest,
    MotionRef,
    manifest_from_json,
    validate_job_id,
)
from .security import is_safe_slug, resolve_under, safe_slug
from .store import ObjectStore, is_valid_key, open_store, sha256_file, validate_key

PENDING: Final = "jobs/pending/"
PROCESSING: Final = "jobs/processing/"
STATUS: Final = "jobs/status/"
REJECTED: Final = "jobs/rejected/"
RESULTS: Final = "results/"
CHARACTER_ASSETS: Final = "assets/characters/"
COMPLETE_NAME: Final = "_complete.json"
FINAL_STATES: Final = frozenset({"completed", "failed", "cancelled"})
LIST_STATES: Final = (*JOB_STATES, "rejected")
_FINAL_PRIORITY: Final = {"completed": 3, "cancelled": 2, "failed": 1}
_NO_WORKER: Final = "_"
_PROGRESS_INTERVAL_S = 0.5
_LIST_THREADS = 8
_JOB_ID_TIME = re.compile(r"_(\d{8})_(\d{6})_")


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
    """Where versions before the key-named final states kept every job's status (still read)."""
    return f"{STATUS}{job_id}.json"


def results_prefix(job_id: str) -> str:
    return f"{RESULTS}{job_id}/"


def complete_key(job_id: str) -> str:
    return f"{RESULTS}{job_id}/{COMPLETE_NAME}"


def job_created_at(job_id: str) -> str:
    """The UTC submit time a job id carries (``render_20250102_030405_…`` → ``2025-01-02T03:04:05Z``)."""
    match = _JOB_ID_TIME.search(job_id)
    if not match:
        return ""
    day, moment = match.groups()
    return f"{day[:4]}-{day[4:6]}-{day[6:]}T{moment[:2]}:{moment[2:4]}:{moment[4:]}Z"


@dataclass(frozen=True)
class JobStatus:
    """A job's state as the queue reports it; times are ISO-8601 UTC strings."""

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


def final_status_key(status: JobStatus) -> str:
    """``jobs/status/<job_id>.<state>.<attempts>.<done>-<total>.<worker>.json`` of a final status."""
    if status.state not in FINAL_STATES:
        raise QueueError(f"job {status.job_id}: {status.state} is not a final state")
    worker = status.worker if status.worker and is_safe_slug(status.worker) else _NO_WORKER
    done, total = int(status.progress.get("done", 0)), int(status.progress.get("total", 0))
    return f"{STATUS}{status.job_id}.{status.state}.{status.attempts}.{done}-{total}.{worker}.json"


def _status_from_final_key(key: str, max_attempts: int) -> JobStatus | None:
    """The status a final key's name tells (no error text: that is inside the object), or ``None``."""
    parts = key[len(STATUS) :].split(".")
    if len(parts) != 6 or parts[5] != "json" or parts[1] not in FINAL_STATES:
        return None
    job_id, state, attempts, progress, worker = parts[:5]
    done, _, total = progress.partition("-")
    if not (attempts.isdigit() and done.isdigit() and total.isdigit()):
        return None
    try:
        validate_job_id(job_id)
    except ManifestError:
        return None
    return JobStatus(
        job_id=job_id,
        job_type=job_id.split("_", 1)[0],
        state=state,
        attempts=int(attempts),
        max_attempts=max_attempts,
        progress={"done": int(done), "total": int(total)},
        worker="" if worker == _NO_WORKER else worker,
        created_at=job_created_at(job_id),
    )


def _winner(candidates: Iterable[tuple[JobStatus, str]]) -> tuple[JobStatus, str] | None:
    """The final status that counts when several exist: completed, then cancelled, then failed."""
    ranked = sorted(candidates, key=lambda item: (_FINAL_PRIORITY.get(item[0].state, 0), item[0].attempts, item[1]))
    return ranked[-1] if ranked else None


@dataclass(frozen=True)
class _LeaseRecord:
    """``jobs/processing/<job_id>.json``: who holds the job until when, and what it has done so far."""

    job_id: str
    worker_id: str
    attempt: int
    claimed_at: float
    expires_at: float
    released: bool = False
    progress: dict[str, int] = field(default_factory=lambda: {"done": 0, "total": 0})
    error: str = ""
    updated_at: float = 0.0

    def to_bytes(self) -> bytes:
        return _json_bytes(asdict(self))

    def live(self, now: float) -> bool:
        return not self.released and self.expires_at > now

    @classmethod
    def parse(cls, data: bytes) -> _LeaseRecord | None:
        try:
            raw = json.loads(data)
            progress = raw.get("progress")
            return cls(
                job_id=str(raw["job_id"]),
                worker_id=str(raw["worker_id"]),
                attempt=int(raw["attempt"]),
                claimed_at=float(raw["claimed_at"]),
                expires_at=float(raw["expires_at"]),
                released=bool(raw.get("released", False)),
                progress={"done": int(progress["done"]), "total": int(progress["total"])}
                if isinstance(progress, dict)
                else {"done": 0, "total": 0},
                error=str(raw.get("error", "")),
                updated_at=float(raw.get("updated_at", raw["claimed_at"])),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return None


def is_job_id(text: str) -> bool:
    try:
        validate_job_id(text)
    except ManifestError:
        return False
    return True


@dataclass(frozen=True)
class ResultFile:
    """One entry of ``_complete.json``: a path relative to the job's results, bytes, SHA-256."""

    path: str
    size: int
    sha256: str


def _local_asset(path: Path, extensions: tuple[str, ...], kind: str) -> tuple[str, str, str]:
    """``(name, sha256, ext)`` of a local asset file: the name is the file stem as a slug."""
    ext = path.suffix.lower().lstrip(".")
    if ext not in extensions:
        raise ManifestError(f"{path.name}: unsupported {kind} file type (use {', '.join(extensions)})")
    if not path.is_file():
        raise ManifestError(f"{path}: no such file")
    try:
        name = safe_slug(path.stem)
    except ValueError as error:
        raise ManifestError(f"{path.name}: {error}") from None
    return name, sha256_file(path), ext


def character_ref_for(path: Path) -> CharacterRef:
    """The content-addressed reference of a local character file (name from the file stem)."""
    return CharacterRef(*_local_asset(path, CHARACTER_EXTENSIONS, "character"))


def motion_ref_for(path: Path) -> MotionRef:
    """The content-addressed reference of a local motion file (BVH; name from the file stem)."""
    return MotionRef(*_local_asset(path, MOTION_EXTENSIONS, "motion"))


class JobQueue:
    """Submitter and worker operations of the protocol over one store.

    ``defer_lease_cleanup`` (set by agents) keeps the leases of finished jobs until
    :meth:`flush_leases` deletes them in one request; their pending keys are gone already, so a
    leftover lease is never mistaken for work.
    """

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
        self.defer_lease_cleanup = False
        self._clock = clock
        self._finished_leases: list[str] = []
        self._finished_lock = threading.Lock()

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
        """Queue a validated manifest (one request); its status is ``pending`` with 0 attempts."""
        job_id = validate_job_id(manifest.job_id)
        if self.store.put_if_absent(pending_key(job_id), manifest.to_json().encode("utf-8")) is None:
            raise QueueError(f"job {job_id} already exists")
        return JobStatus(
            job_id=job_id,
            job_type=manifest.job_type,
            state="pending",
            max_attempts=self.max_attempts,
            created_at=manifest.created_at,
            updated_at=iso_time(self._clock()),
        )

    def status(self, job_id: str) -> JobStatus | None:
        """The job's status, or ``None`` if the store has never heard of it (two or three requests)."""
        validate_job_id(job_id)
        final, legacy = self._final_status(job_id)
        if final is not None:
            return final
        stored = self.store.get(lease_key(job_id))
        record = _LeaseRecord.parse(stored.data) if stored is not None else None
        if record is not None:
            return self._status_from_lease(record)
        if self.store.exists(pending_key(job_id)):
            return self._pending_status(job_id)
        return legacy

    def final(self, job_id: str) -> JobStatus | None:
        """The job's final status if it has one (one LIST, one GET), else ``None``."""
        return self._final_status(validate_job_id(job_id))[0]

    def _final_status(self, job_id: str) -> tuple[JobStatus | None, JobStatus | None]:
        """The final status of a job (one LIST, one GET), and a non-final status left by an earlier version."""
        keys = self.store.list(f"{STATUS}{job_id}.")
        candidates = [(status, key) for key in keys if (status := _status_from_final_key(key, self.max_attempts))]
        legacy = None
        if status_key(job_id) in keys:
            stored = self.store.get(status_key(job_id))
            legacy = _parse_status(stored.data) if stored is not None else None
            if legacy is not None and legacy.state in FINAL_STATES:
                candidates.append((legacy, status_key(job_id)))
                legacy = None
        winner = _winner(candidates)
        if winner is None:
            return None, legacy
        named, key = winner
        if key == status_key(job_id):
            return named, None
        stored = self.store.get(key)
        detailed = _parse_status(stored.data) if stored is not None else None
        return (detailed if detailed is not None and detailed.state == named.state else named), None

    def _pending_status(self, job_id: str) -> JobStatus:
        return JobStatus(
            job_id=job_id,
            job_type=job_id.split("_", 1)[0],
            state="pending",
            max_attempts=self.max_attempts,
            created_at=job_created_at(job_id),
        )

    def _status_from_lease(self, record: _LeaseRecord) -> JobStatus:
        """A running job (``processing``), or one whose lease was given back (``pending`` again)."""
        running = not record.released
        return replace(
            self._pending_status(record.job_id),
            state="processing" if running else "pending",
            attempts=record.attempt,
            progress=dict(record.progress),
            error=record.error,
            worker=record.worker_id if running else "",
            started_at=iso_time(record.claimed_at) if running else "",
            updated_at=iso_time(record.updated_at or record.claimed_at),
        )

    def list_jobs(
        self, states: Sequence[str] | None = None, since: str | None = None, limit: int | None = None
    ) -> list[JobStatus]:
        """Jobs newest first (then rejected pending files, as state ``rejected``), from key listings.

        ``states`` keeps only those states, ``since`` (ISO-8601 UTC, compared as text) only jobs
        created at or after it, ``limit`` only the first so many. Requests: one LIST per 1,000 keys
        of each folder, plus one GET per running job (its progress), per failed job shown (its
        error) and per rejected file shown.
        """
        wanted = set(states) if states else set(LIST_STATES)
        unknown = wanted - set(LIST_STATES)
        if unknown:
            raise QueueError(f"unknown state {', '.join(sorted(unknown))} (choose from {', '.join(LIST_STATES)})")
        prefixes = (PENDING, PROCESSING, STATUS, REJECTED) if "rejected" in wanted else (PENDING, PROCESSING, STATUS)
        with ThreadPoolExecutor(max_workers=len(prefixes)) as pool:
            listed = dict(zip(prefixes, pool.map(self.store.list, prefixes), strict=True))
        finals: dict[str, list[tuple[JobStatus, str]]] = {}
        legacy_keys = []
        for key in listed[STATUS]:
            named = _status_from_final_key(key, self.max_attempts)
            if named is not None:
                finals.setdefault(named.job_id, []).append((named, key))
            elif key.endswith(".json") and key.count(".") == 1:
                legacy_keys.append(key)
        pending = {key[len(PENDING) :].removesuffix(".json") for key in listed[PENDING]}
        leased = {key[len(PROCESSING) :].removesuffix(".json") for key in listed[PROCESSING]}
        for status in self._read_statuses(legacy_keys):
            if status.state in FINAL_STATES:
                finals.setdefault(status.job_id, []).append((status, status_key(status.job_id)))
        chosen: dict[str, tuple[JobStatus, str]] = {}
        for job_id, candidates in finals.items():
            winner = _winner(candidates)
            if winner is not None:
                chosen[job_id] = winner
        jobs: list[JobStatus] = [status for status, _ in chosen.values()]
        open_jobs = sorted(job_id for job_id in pending if job_id not in chosen and is_job_id(job_id))
        running = [job_id for job_id in open_jobs if job_id in leased and (since is None or job_created_at(job_id) >= since)]
        leases = dict(zip(running, self._parallel(lambda job_id: self.store.get(lease_key(job_id)), running), strict=True))
        for job_id in open_jobs:
            stored = leases.get(job_id)
            record = _LeaseRecord.parse(stored.data) if stored is not None else None
            jobs.append(self._status_from_lease(record) if record is not None else self._pending_status(job_id))
        selected = [job for job in jobs if job.state in wanted and (since is None or job.created_at >= since)]
        selected.sort(key=lambda job: (job.created_at, job.job_id), reverse=True)
        if "rejected" in wanted:
            selected += [job for job in self._rejected(listed[REJECTED]) if since is None or job.created_at >= since]
        selected = selected[:limit] if limit else selected
        failed = [index for index, job in enumerate(selected) if job.state == "failed" and not job.error]
        details = self._parallel(lambda index: self._final_details(chosen.get(selected[index].job_id)), failed)
        for index, detail in zip(failed, details, strict=True):
            if detail is not None:
                selected[index] = detail
        return selected

    def _parallel(self, read: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if len(items) <= 1:
            return [read(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(_LIST_THREADS, len(items))) as pool:
            return list(pool.map(read, items))

    def _read_statuses(self, keys: Sequence[str]) -> list[JobStatus]:
        stored = self._parallel(self.store.get, keys)
        return [status for item in stored if item is not None and (status := _parse_status(item.data)) is not None]

    def _final_details(self, winner: tuple[JobStatus, str] | None) -> JobStatus | None:
        if winner is None:
            return None
        stored = self.store.get(winner[1])
        detailed = _parse_status(stored.data) if stored is not None else None
        return detailed if detailed is not None and detailed.state == winner[0].state else None

    def _rejected(self, keys: Sequence[str]) -> list[JobStatus]:
        rejected = []
        for key, stored in zip(keys, self._parallel(self.store.get, keys), strict=True):
            try:
                record = json.loads(stored.data) if stored is not None else {}
            except ValueError:
                record = {}
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
        return sorted(rejected, key=lambda status: status.job_id)

    def cancel(self, job_id: str) -> JobStatus:
        """Cancel a job that is not final; a running job stops at its next lease renewal."""
        validate_job_id(job_id)
        current = self.status(job_id)
        if current is None:
            raise QueueError(f"no job {job_id} in {self.store.url}")
        if current.state in FINAL_STATES:
            raise QueueError(f"job {job_id} is already {current.state}")
        now = self.now_iso()
        status = replace(current, state="cancelled", updated_at=now, finished_at=now)
        self.store.put(final_status_key(status), _json_bytes(status.to_dict()))
        self.store.delete(pending_key(job_id))
        if current.state != "processing":
            self.store.delete(lease_key(job_id))
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

    def pending_keys(self, limit: int | None = None) -> list[str]:
        """Keys under ``jobs/pending/``, oldest job id first (the first ``limit`` only, if given)."""
        return self.store.list(PENDING, limit)

    def claim(self, key: str, worker_id: str) -> Lease | None:
        """Try to take the job stored at ``key``; ``None`` when it is not available to us.

        A job nobody has claimed costs two requests (create the lease, read the manifest). Also
        finishes the bookkeeping nobody else will: a pending file without a valid job id is moved
        to ``jobs/rejected/``; an invalid manifest, a job past ``max_attempts`` or a job that is
        already final is marked and removed from ``jobs/pending/``.
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
        taken = self._take_lease(job_id, worker_id)
        if taken is None:
            return None
        lease, previous = taken
        if lease.attempt > self.max_attempts:
            last = (previous.error if previous else "") or (
                f"worker {previous.worker_id} stopped responding (lease expired)" if previous else "lease expired"
            )
            self._finish(lease, "failed", f"gave up after {self.max_attempts} attempts; last error: {last}")
            return None
        stored = self.store.get(key)
        if stored is None:
            self.store.delete(lease_key(job_id))
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
        return lease

    def _take_lease(self, job_id: str, worker_id: str) -> tuple[Lease, _LeaseRecord | None] | None:
        """Create the job's lease, or take over an expired or released one (then check the job is not final)."""
        key = lease_key(job_id)
        now = self._clock()
        record = _LeaseRecord(job_id, worker_id, 1, now, now + self.lease_seconds, updated_at=now)
        etag = self.store.put_if_absent(key, record.to_bytes())
        if etag is not None:
            return Lease(self, record, etag), None
        current = self.store.get(key)
        if current is None:
            return None
        previous = _LeaseRecord.parse(current.data)
        if previous is not None and previous.live(now):
            return None
        attempts_so_far = previous.attempt if previous is not None else 0
        record = replace(record, attempt=attempts_so_far + 1, error=previous.error if previous else "")
        etag = self.store.put_if_match(key, record.to_bytes(), current.etag)
        if etag is None:
            return None
        lease = Lease(self, record, etag)
        # A lease outlives its job when a worker stopped between its final write and the clean-up.
        final, _ = self._final_status(job_id)
        if final is None and self.store.exists(complete_key(job_id)):
            final = self._finish(lease, "completed", "", committed=self._commit_record(job_id))
        if final is not None:
            lease.drop()
            return None
        return lease, previous

    def _commit_record(self, job_id: str) -> dict[str, Any]:
        stored = self.store.get(complete_key(job_id))
        try:
            record = json.loads(stored.data) if stored is not None else {}
        except ValueError:
            record = {}
        return record if isinstance(record, dict) else {}

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

    def now_iso(self) -> str:
        return iso_time(self._clock())

    def final_status(
        self,
        job_id: str,
        state: str,
        error: str,
        worker: str,
        attempts: int,
        progress: dict[str, int],
        started_at: str,
        manifest: JobManifest | None = None,
        committed: dict[str, Any] | None = None,
    ) -> JobStatus:
        """The final status of a job, as :meth:`record_final` writes it.

        ``committed`` is the ``_complete.json`` record of a completed job: its worker and attempt are
        the ones that count, whoever writes the status.
        """
        now = self.now_iso()
        progress = dict(progress)
        if state == "completed":
            progress["done"] = progress["total"] = max(progress.get("done", 0), progress.get("total", 0))
            if committed:
                worker = str(committed.get("worker_id", worker))
                attempts = int(committed.get("attempt", attempts))
        return JobStatus(
            job_id=job_id,
            job_type=manifest.job_type if manifest is not None else job_id.split("_", 1)[0],
            state=state,
            attempts=attempts,
            max_attempts=self.max_attempts,
            progress=progress,
            error=error,
            worker=worker,
            created_at=manifest.created_at if manifest is not None else job_created_at(job_id),
            updated_at=now,
            started_at=started_at,
            finished_at=now,
        )

    def record_final(self, status: JobStatus) -> None:
        """Write ``jobs/status/<job_id>.<state>.….json`` (one request); the state must be final."""
        self.store.put(final_status_key(status), _json_bytes(status.to_dict()))

    def _finish(self, lease: Lease, state: str, error: str, committed: dict[str, Any] | None = None) -> JobStatus:
        """Write the final status, then remove the pending manifest and (now or at the next flush) the lease."""
        job_id = lease.job_id
        record = lease.record
        status = self.final_status(
            job_id,
            state,
            error or record.error,
            record.worker_id,
            min(record.attempt, self.max_attempts) if state == "failed" else record.attempt,
            record.progress,
            iso_time(record.claimed_at),
            lease.manifest,
            committed,
        )
        self.record_final(status)
        self.store.delete(pending_key(job_id))
        if self.defer_lease_cleanup:
            with self._finished_lock:
                self._finished_leases.append(lease_key(job_id))
        else:
            self.store.delete(lease_key(job_id))
        return status

    def flush_leases(self) -> int:
        """Delete the leases of jobs this queue finished with ``defer_lease_cleanup``; returns how many."""
        with self._finished_lock:
            keys, self._finished_leases = self._finished_leases, []
        if keys:
            try:
                self.store.delete_many(keys)
            except StoreError:
                with self._finished_lock:
                    self._finished_leases[:0] = keys
                raise
        return len(keys)


class Lease:
    """A worker's hold on one job: renew it, report progress, then complete, fail or release it.

    Every write to the lease is a compare-and-swap with the ETag of this worker's last write, so a
    failed write means another worker took the job over. Thread-safe: a heartbeat thread may call
    :meth:`renew` while the job runs. Times come from the queue's clock.
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
        self._written_at = queue._clock()

    @property
    def record(self) -> _LeaseRecord:
        """The lease as this worker last wrote it, with the latest progress."""
        return self._record

    def _write(self, record: _LeaseRecord) -> None:
        """Replace the lease if it is still ours (call with ``_lock`` held)."""
        if self.lost:
            raise LeaseLost(f"job {self.job_id}: lease lost to another worker")
        etag = self.queue.store.put_if_match(lease_key(self.job_id), record.to_bytes(), self._etag)
        if etag is None:
            self.lost = True
            raise LeaseLost(f"job {self.job_id}: lease lost to another worker (attempt {self.attempt} expired)")
        self._record, self._etag = record, etag
        self._written_at = record.updated_at

    def renew(self, check_cancelled: bool = True) -> None:
        """Extend the lease by ``lease_seconds``; with ``check_cancelled``, also notices cancellation (one LIST).

        Raises:
            LeaseLost: another worker holds the job now.
            JobCancelled: the job was cancelled.
        """
        with self._lock:
            now = self.queue._clock()
            self._write(replace(self._record, expires_at=now + self.queue.lease_seconds, updated_at=now))
        if not check_cancelled:
            return
        final = self.queue.final(self.job_id)
        if final is not None and final.state == "cancelled":
            self.cancelled = True
            raise JobCancelled(f"job {self.job_id} was cancelled")

    def _due(self) -> bool:
        return self.queue._clock() - self._written_at >= self.queue.lease_seconds / 3.0

    def renew_if_due(self) -> None:
        """Renew when a third of the lease has passed since this worker last wrote it.

        Called between images and around the upload, so a worker whose heartbeat thread is starved
        (a render that holds the GIL) keeps its lease as long as no single image outlasts it, and a
        short job needs no renewal at all.
        """
        if self._due():
            self.renew()

    def report_progress(self, done: int, total: int) -> None:
        """Remember ``done`` of ``total`` images; written into the lease at most every 0.5 s.

        The count of a job that finishes within 0.5 s of its last write is recorded by its commit.
        """
        with self._lock:
            progress = {"done": int(done), "total": int(total)}
            now = self.queue._clock()
            if now - self._written_at < _PROGRESS_INTERVAL_S:
                self._record = replace(self._record, progress=progress)
                return
            self._write(replace(self._record, progress=progress, expires_at=now + self.queue.lease_seconds, updated_at=now))

    def complete(self, result_dir: Path) -> bool:
        """Upload every file under ``result_dir``, then commit with ``_complete.json``.

        Returns True if this worker's commit is the one that counts (False if another
        worker had already committed the job).

        Raises:
            LeaseLost, JobCancelled: the lease is no longer ours; nothing was committed.
            QueueError: a result file name is not a safe key.
        """

        def before_upload() -> None:
            if self.lost:
                raise LeaseLost(f"job {self.job_id}: lease lost to another worker")
            self.renew_if_due()

        def before_commit() -> None:
            if self.lost:
                raise LeaseLost(f"job {self.job_id}: lease lost to another worker")
            if self._due():
                self.renew(check_cancelled=False)

        won, record = commit_results(
            self.queue, self.job_id, self.worker_id, self.attempt, result_dir, before_upload, before_commit
        )
        self.queue._finish(self, "completed", "", committed=record)
        return won

    def fail(self, error: str, retry: bool) -> JobStatus:
        """Record a failed attempt: back to ``pending`` while attempts remain and ``retry``, else ``failed``."""
        if not retry or self.attempt >= self.queue.max_attempts:
            return self.queue._finish(self, "failed", error)
        return self._give_back(error, self.attempt)

    def release(self, reason: str) -> JobStatus:
        """Give the job back untouched (shutdown): the next claim reuses this attempt number."""
        return self._give_back(reason, self.attempt - 1)

    def drop(self) -> None:
        """Remove the pending manifest, then the lease, of a job that is already final."""
        self.queue.store.delete(pending_key(self.job_id))
        self.queue.store.delete(lease_key(self.job_id))

    def _give_back(self, error: str, attempts: int) -> JobStatus:
        with self._lock:
            now = self.queue._clock()
            self._write(replace(self._record, attempt=attempts, expires_at=0.0, released=True, error=error, updated_at=now))
        return self.queue._status_from_lease(self._record)


def commit_results(
    queue: JobQueue,
    job_id: str,
    worker_id: str,
    attempt: int,
    result_dir: Path,
    before_upload: Callable[[], None] = lambda: None,
    before_commit: Callable[[], None] = lambda: None,
) -> tuple[bool, dict[str, Any]]:
    """Upload every file under ``result_dir`` to ``results/<job_id>/``, then create ``_complete.json``.

    ``before_upload`` and ``before_commit`` may raise to stop (a lost lease). Returns whether this
    commit is the one that counts, and the ``_complete.json`` record that does.

    Raises:
        QueueError: a result file name is not a safe key (nothing was uploaded).
    """
    prefix = results_prefix(job_id)
    paths = sorted(path for path in Path(result_dir).rglob("*") if path.is_file() and not path.is_symlink())
    entries: list[tuple[str, Path]] = []
    for path in paths:
        relative = path.relative_to(result_dir).as_posix()
        if relative == COMPLETE_NAME or not is_valid_key(prefix + relative):
            raise QueueError(f"job {job_id}: result file name {relative!r} is not allowed")
        entries.append((relative, path))
    before_upload()
    files = []
    for relative, path in entries:
        queue.store.upload_file(prefix + relative, path)
        files.append(asdict(ResultFile(relative, path.stat().st_size, sha256_file(path))))
    before_commit()
    record = {
        "job_id": job_id,
        "worker_id": worker_id,
        "attempt": attempt,
        "completed_at": iso_time(queue._clock()),
        "files": files,
    }
    won = queue.store.put_if_absent(complete_key(job_id), _json_bytes(record)) is not None
    return won, record if won else queue._commit_record(job_id)


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
