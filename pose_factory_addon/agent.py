"""The worker that runs queued jobs: poll, claim, fetch assets, run a built-in handler, commit.

Runs as ``blender --background --python headless/agent.py -- --store URL …``, as
``python headless/agent.py …`` with the bpy module, or as ``pose-factory agent …``.
A manifest only selects one of the built-in handlers by ``job_type``; nothing a manifest
names is ever executed. The render handler imports the bpy renderer lazily, so the agent's
protocol side (and its tests) need no Blender.

Signals: SIGTERM/SIGINT stop claiming; the running job is released at its next progress
report (or finishes, if it reports none) and the agent exits 0. Logs are one JSON object per
line on stderr (and in ``--log-file``), each with ``event``, ``worker`` and ``job_id`` (``null``
outside a job). The agent keeps ``agents/<worker_id>.json`` in the store up to date
(:mod:`.core.pod_activity`); on RunPod, ``--stop-pod-when-idle`` stops its own pod once no job
has come for that long.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Protocol, TextIO

from .core import defaults
from .core.character_files import preferred_character_file
from .core.config import load_settings, user_cache_dir
from .core.devices import DEVICE_CHOICES
from .core.enhance_options import EnhanceOptions
from .core.errors import CostLimitExceeded, EnhanceError, ManifestError, PoseFactoryError, QAError, RenderError, UsageError
from .core.manifest import CHARACTER_EXTENSIONS, CharacterParams, JobManifest, RenderParams
from .core.output_paths import writable_folder
from .core.pod_activity import AgentPresence, pod_worker_id, worker_on_pod
from .core.pods import own_pod_id, own_pod_stopper
from .core.queue import (
    JobCancelled,
    JobQueue,
    Lease,
    LeaseLost,
    PermanentJobError,
    character_ref_for,
    fetch_character,
    fetch_motion,
)
from .core.security import is_safe_slug, redact, resolve_under, safe_slug
from .core.store import ObjectStore, open_store

ProgressCallback = Callable[[int, int], None]
_FINISHED_MARKER = ".finished"
CHARACTERS_DIR = "characters"  # a job's generated character files, published as assets
ENHANCED_DIR = "enhanced"  # a render job's dataset enhanced by Stability AI (params.enhance), inside its results
ASSETS_FILE = "assets.json"
# An agent picks its next job at random among the oldest CLAIM_WINDOW pending jobs, so agents polling
# together rarely race for the same one; finished jobs' leases are deleted in batches of LEASE_FLUSH_JOBS.
CLAIM_WINDOW = 64
LEASE_FLUSH_JOBS = 32
_WORKSPACE_CLEAN_INTERVAL_S = 60.0  # finished job folders are kept for hours; looking once a minute is enough
AGENT_CACHE_FOLDER = "agent"  # the agent's workspace inside the user cache folder, off a pod


class JobHandler(Protocol):
    """Runs one job: write every result file under ``out_dir``; raise to fail the job."""

    def __call__(self, manifest: JobManifest, files: Mapping[str, Path], out_dir: Path, progress: ProgressCallback) -> None: ...


class _ShutdownRequested(Exception):
    """Raised from the progress callback when the agent was asked to stop."""


def render_job(manifest: JobManifest, files: Mapping[str, Path], out_dir: Path, progress: ProgressCallback) -> None:
    """The ``render`` handler: the bpy renderer; any per-character failure fails the job."""

    assert isinstance(manifest.params, RenderParams)
    _render_all(manifest.params, files, files, out_dir, progress)


def _render_all(
    params: RenderParams, characters: Mapping[str, Path], assets: Mapping[str, Path], out_dir: Path, progress: ProgressCallback
) -> None:
    """Render ``params`` with the fetched BVH motions in ``assets``; any per-character failure fails the job.

    With ``params.enhance`` the dataset is then enhanced into ``<out_dir>/enhanced`` (what that needs is
    checked before rendering, so a missing key costs no GPU time).
    """
    from .render.pipeline import render_dataset

    enhancement = prepare_enhancement(params.enhance) if params.enhance is not None else None
    motion_files = {motion.name: assets[motion.asset_key] for motion in params.motions if not motion.is_library}
    dataset = render_dataset(params, characters, out_dir, progress, motion_files=motion_files)
    failures = dataset.get("failures") or []
    if failures:
        raise RenderError("; ".join(_failure_text(item) for item in failures))
    if enhancement is not None:
        enhancement(out_dir, progress, len(dataset["images"]))


EnhancementStep = Callable[[Path, ProgressCallback, int], None]
"""Enhances the dataset in a folder; progress continues after the given number of rendered images."""


def prepare_enhancement(options: EnhanceOptions) -> EnhancementStep:
    """Check what enhancing needs on this worker (``STABILITY_API_KEY`` in its environment, MediaPipe, the cost
    config) and return the step that enhances a rendered dataset into ``<folder>/enhanced``.

    The submitter confirmed the cost; here the hard limits of this worker's settings apply again. Refusals
    (no key, out of credits, a rejected prompt, above a limit) fail the job for good; rate limits and
    server errors that outlast the retries fail the attempt, so the job is retried.

    Raises:
        PermanentJobError: the key or the QA interpreter is missing.
    """
    from .core.enhance import enhance, plan_enhancement
    from .core.enhance_cost import check_enhance_cost
    from .core.qa_detector import find_qa_python
    from .core.stability import StabilityClient, TransientError

    settings = load_settings()
    try:
        client = StabilityClient.from_settings(settings)
        qa_python = find_qa_python()
    except PoseFactoryError as error:
        raise PermanentJobError(f"this job asks for enhancement, but {error}") from None

    def step(folder: Path, progress: ProgressCallback, rendered: int) -> None:
        try:
            plan = plan_enhancement(folder, folder / ENHANCED_DIR, options)
            total = rendered + len(plan.items)
            cost = check_enhance_cost(len(plan.pending), options.mode, settings)
            enhance(
                plan,
                client,
                cost,
                progress=lambda done, _total: progress(rendered + done, total),
                qa_progress=lambda _done, _total: progress(total, total),
                qa_python=qa_python,
            )
        except TransientError:
            raise
        except (EnhanceError, CostLimitExceeded, QAError, UsageError) as error:
            raise PermanentJobError(f"enhancement: {error}") from None

    return step


def _failure_text(item: Any) -> str:
    if isinstance(item, Mapping):
        subject = item.get("character") or item.get("name") or ""
        message = item.get("error") or item.get("message") or json.dumps(dict(item), sort_keys=True)
        return f"{subject}: {message}" if subject else str(message)
    return str(item)


def character_job(manifest: JobManifest, files: Mapping[str, Path], out_dir: Path, progress: ProgressCallback) -> None:
    """The ``character`` handler: generate the people into ``characters/`` (the agent publishes them as assets),
    then, with ``then_render``, render them into the job's results like a render job.

    Progress counts the generation steps first, then the images. A person that cannot be made (an
    impossible height for the age) fails the job for good: retrying would not change it.
    """
    from .core.characters import people
    from .render.characters import generate_characters

    params = manifest.params
    assert isinstance(params, CharacterParams)
    characters_dir = out_dir / CHARACTERS_DIR
    records, errors = generate_characters(people(params.spec, params.count), characters_dir, progress, params.formats)
    if errors:
        raise PermanentJobError("; ".join(errors))
    if params.then_render is None:
        return
    chosen = {record["name"]: characters_dir / preferred_character_file(record["files"]) for record in records}
    refs = tuple(replace(character_ref_for(path), name=name) for name, path in chosen.items())
    _render_all(replace(params.then_render, characters=refs), chosen, files, out_dir, progress)


def publish_characters(queue: JobQueue, out_dir: Path) -> list[dict[str, str]]:
    """Upload the character files a job wrote under ``characters/`` as content-addressed assets, and list them
    in ``characters/assets.json`` (``name``, ``sha256``, ``ext``), so render jobs can name them without a new upload."""
    characters_dir = out_dir / CHARACTERS_DIR
    if not characters_dir.is_dir():
        return []
    assets = []
    for path in sorted(characters_dir.iterdir()):
        if path.suffix.lower().lstrip(".") in CHARACTER_EXTENSIONS:
            ref = queue.upload_character(path)
            assets.append({"name": ref.name, "sha256": ref.sha256, "ext": ref.ext})
    (characters_dir / ASSETS_FILE).write_text(json.dumps(assets, indent=1) + "\n", encoding="utf-8")
    return assets


BUILTIN_HANDLERS: Mapping[str, JobHandler] = {"render": render_job, "character": character_job}


class EventLog:
    """One JSON object per line: ``{"time", "event", "worker", "job_id", ...}``; secrets redacted."""

    def __init__(self, worker_id: str, stream: TextIO | None = None, file: Path | None = None) -> None:
        self.worker_id = worker_id
        self._stream = stream or sys.stderr
        self._file = file  # appended line by line, so nothing but these JSON lines ever lands in it
        self._lock = threading.RLock()  # re-entrant: the signal handler logs from the main thread

    def __call__(self, event: str, job_id: str | None = None, **fields: Any) -> None:
        record = {"time": round(time.time(), 3), "event": event, "worker": self.worker_id, "job_id": job_id, **fields}
        line = redact(json.dumps(record, default=str, sort_keys=False))
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()
            if self._file is not None:
                with open(self._file, "a", encoding="utf-8") as handle:
                    handle.write(line + "\n")


class _EventNotices(logging.Handler):
    """Warnings of the package's modules (an S3 endpoint that does not answer yet) as events of the agent's log,
    named by the record's ``event`` (``store_retrying``), so its stderr stays one JSON object per line."""

    def __init__(self, log: EventLog) -> None:
        super().__init__(logging.WARNING)
        self.log = log

    def emit(self, record: logging.LogRecord) -> None:
        self.log(str(getattr(record, "event", "warning")), message=record.getMessage())


@dataclass
class AgentOptions:
    """How an agent runs; seconds for times."""

    worker_id: str
    workspace: Path
    once: bool = False
    max_jobs: int | None = None
    poll_seconds: float = defaults.POLL_INTERVAL_S
    lease_seconds: float = defaults.LEASE_SECONDS
    max_attempts: int = defaults.MAX_ATTEMPTS
    workspace_max_age_s: float = defaults.WORKSPACE_MAX_AGE_S
    pod_id: str = ""  # the RunPod pod this agent runs in, "" elsewhere
    stop_pod_when_idle_s: float = 0.0  # stop the pod after this long without a job; 0 = never


def default_worker_id() -> str:
    """``<pod id>-<pid>`` on RunPod, else ``<host>-<pid>``, made safe (the worker id is written into leases and status)."""
    pod_id = own_pod_id()
    if pod_id is not None:
        return pod_worker_id(pod_id, str(os.getpid()))
    return safe_slug(f"{socket.gethostname()}-{os.getpid()}")


def run_agent(
    store: ObjectStore,
    options: AgentOptions,
    handlers: Mapping[str, JobHandler] = BUILTIN_HANDLERS,
    stop: threading.Event | None = None,
    log: EventLog | None = None,
    stop_pod: Callable[[], object] | None = None,
    device: Mapping[str, Any] | None = None,
) -> int:
    """Process jobs until ``stop`` is set, ``max_jobs`` were handled, or (``once``) none is claimable.

    With ``stop_pod`` (a call that stops this agent's pod) and ``options.stop_pod_when_idle_s``, the
    agent also ends when no job has come for that long, and after ``max_jobs``; it then calls
    ``stop_pod`` once. It holds no job at that point: every job it took is committed or given back.
    ``device`` (the render device record: device, backend, GPU names) is logged with ``agent_started``.
    Returns the number of jobs this agent claimed and finished (completed, failed or released).
    """
    stop = stop or threading.Event()
    log = log or EventLog(options.worker_id)
    queue = JobQueue(store, max_attempts=options.max_attempts, lease_seconds=options.lease_seconds)
    queue.defer_lease_cleanup = True
    workspace = options.workspace
    (workspace / "jobs").mkdir(parents=True, exist_ok=True)
    (workspace / "cache" / "characters").mkdir(parents=True, exist_ok=True)
    idle_limit = options.stop_pod_when_idle_s if stop_pod is not None else 0.0
    log(
        "agent_started",
        store=store.url,
        workspace=str(workspace),
        once=options.once,
        lease_seconds=options.lease_seconds,
        pod_id=options.pod_id or None,
        stop_pod_when_idle_s=idle_limit or None,
        **({"render_device": dict(device)} if device else {}),
    )
    # Only an agent on a pod keeps a record of what it does (for `pods list` and `pods terminate`):
    # elsewhere those two writes per job would only slow the queue.
    presence = (
        AgentPresence(store, options.worker_id, options.pod_id, max(options.lease_seconds / 3.0, 0.05), idle_limit)
        if options.pod_id
        else None
    )
    _set_presence(presence, log, "idle")
    _clean_workspace(workspace, options.workspace_max_age_s, log)
    cleaned_at = time.monotonic()
    handled = 0
    reason = "done"
    picker = random.Random()
    try:
        while not stop.is_set() and (options.max_jobs is None or handled < options.max_jobs):
            lease = _claim_next(queue, options.worker_id, stop, log, picker, CLAIM_WINDOW)
            if lease is not None:
                _set_presence(presence, log, "working", lease.job_id)
                _process(queue, lease, handlers, workspace, stop, log)
                handled += 1
                _set_presence(presence, log, "idle")
                if handled % LEASE_FLUSH_JOBS == 0:
                    _flush_leases(queue, log)
                if time.monotonic() - cleaned_at >= _WORKSPACE_CLEAN_INTERVAL_S:
                    _clean_workspace(workspace, options.workspace_max_age_s, log)
                    cleaned_at = time.monotonic()
                continue
            _flush_leases(queue, log)
            if options.once:
                break
            if presence is not None and stop_pod is not None and idle_limit and presence.idle_seconds >= idle_limit:
                why = f"no job for {presence.idle_seconds:.0f} s (limit {idle_limit:g} s)"
                if _stop_own_pod(stop_pod, presence, log, "idle", why):
                    reason = "idle"
                    break
            if presence is not None:
                _record(presence.refresh, log)
            stop.wait(options.poll_seconds)
    finally:
        _flush_leases(queue, log)
    if stop.is_set():
        reason = "signal"
    elif reason == "done" and options.max_jobs is not None and handled >= options.max_jobs:
        reason = "max_jobs"
        if presence is not None and stop_pod is not None and idle_limit:
            _stop_own_pod(stop_pod, presence, log, "max_jobs", f"finished --max-jobs {options.max_jobs}")
    _set_presence(presence, log, "stopped", reason=reason)
    log("agent_stopped", jobs=handled, reason=reason, store_requests=store.requests_sent)
    return handled


def _set_presence(presence: AgentPresence | None, log: EventLog, state: str, job_id: str = "", reason: str = "") -> None:
    if presence is not None:
        _record(partial(presence.set, state, job_id, reason), log)


def _record(write: Callable[[], None], log: EventLog) -> None:
    """Update the agent's record in the store; a store error is logged and the agent goes on."""
    try:
        write()
    except PoseFactoryError as error:
        log("presence_failed", error=str(error))


def _stop_own_pod(stop_pod: Callable[[], object], presence: AgentPresence, log: EventLog, reason: str, why: str) -> bool:
    """Ask RunPod to stop this pod; False (logged, idle clock restarted) when the request fails."""
    log("pod_stop_requested", pod_id=presence.record.pod_id, reason=reason, why=why)
    try:
        stop_pod()
    except PoseFactoryError as error:
        log("pod_stop_failed", pod_id=presence.record.pod_id, error=str(error))
        presence.restart_idle_clock()
        return False
    log("pod_stopping", pod_id=presence.record.pod_id, reason=reason)
    return True


def _flush_leases(queue: JobQueue, log: EventLog) -> None:
    try:
        queue.flush_leases()
    except PoseFactoryError as error:
        log("cleanup_failed", error=str(error))


def _claim_next(
    queue: JobQueue, worker_id: str, stop: threading.Event, log: EventLog, picker: random.Random, window: int | None
) -> Lease | None:
    """Claim one of the oldest ``window`` pending jobs, trying them in random order; when none of a full
    window can be claimed (more agents than the window holds jobs), every pending job."""
    try:
        keys = queue.pending_keys(window)
    except PoseFactoryError as error:
        log("poll_failed", error=str(error))
        return None
    picker.shuffle(keys)
    lease = _claim_first(queue, keys, worker_id, stop, log)
    if lease is not None or window is None or len(keys) < window or stop.is_set():
        return lease
    try:
        tried = set(keys)
        rest = [key for key in queue.pending_keys() if key not in tried]
    except PoseFactoryError as error:
        log("poll_failed", error=str(error))
        return None
    return _claim_first(queue, rest, worker_id, stop, log)


def _claim_first(queue: JobQueue, keys: list[str], worker_id: str, stop: threading.Event, log: EventLog) -> Lease | None:
    for key in keys:
        if stop.is_set():
            return None
        try:
            lease = queue.claim(key, worker_id)
        except PoseFactoryError as error:
            log("claim_failed", key=key, error=str(error))
            continue
        if lease is not None:
            log("job_claimed", lease.job_id, attempt=lease.attempt, taken_over_from=lease.taken_over_from or None)
            return lease
    return None


class _Heartbeat(threading.Thread):
    """Renews the lease every third of its length until stopped; remembers why it stopped."""

    def __init__(self, lease: Lease, interval: float, log: EventLog) -> None:
        super().__init__(name=f"heartbeat-{lease.job_id}", daemon=True)
        self.lease = lease
        self.interval = interval
        self.log = log
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            try:
                self.lease.renew()
            except (LeaseLost, JobCancelled) as error:
                self.log("lease_stopped", self.lease.job_id, reason=str(error))
                return
            except PoseFactoryError as error:
                self.log("heartbeat_failed", self.lease.job_id, error=str(error))


def _process(
    queue: JobQueue, lease: Lease, handlers: Mapping[str, JobHandler], workspace: Path, stop: threading.Event, log: EventLog
) -> None:
    job_id = lease.job_id
    manifest = lease.manifest
    assert manifest is not None
    job_dir = resolve_under(workspace, "jobs", job_id)
    shutil.rmtree(job_dir, ignore_errors=True)
    out_dir = job_dir / "output"
    out_dir.mkdir(parents=True)
    heartbeat = _Heartbeat(lease, max(queue.lease_seconds / 3.0, 0.05), log)
    heartbeat.start()

    interrupted: list[Exception] = []

    def interrupt(reason: Exception) -> Exception:
        interrupted.append(reason)
        return reason

    def progress(done: int, total: int) -> None:
        if stop.is_set():
            raise interrupt(_ShutdownRequested())
        if lease.lost:
            raise interrupt(LeaseLost(f"job {job_id}: lease lost to another worker"))
        if lease.cancelled:
            raise interrupt(JobCancelled(f"job {job_id} was cancelled"))
        try:
            lease.renew_if_due()
        except (LeaseLost, JobCancelled) as error:
            raise interrupt(error) from None
        lease.report_progress(done, total)
        log("job_progress", job_id, done=done, total=total)

    started = time.monotonic()
    try:
        handler = handlers.get(manifest.job_type)
        if handler is None:
            raise PermanentJobError(f"job_type {manifest.job_type!r} has no handler in this worker")
        files = fetch_assets(queue.store, manifest, workspace)
        log("job_started", job_id, job_type=manifest.job_type, attempt=lease.attempt)
        try:
            handler(manifest, files, out_dir, progress)
        except Exception:
            # The renderer records what stops a character as that character's failure and goes on, so the
            # stop request (shutdown, lost lease, cancel) would end as a failed job instead of a released one.
            if interrupted:
                raise interrupted[0] from None
            raise
        if lease.cancelled:
            raise JobCancelled(f"job {job_id} was cancelled")
        published = publish_characters(queue, out_dir)
        if published:
            log("characters_published", job_id, count=len(published))
        won = lease.complete(out_dir)  # the heartbeat keeps the lease alive while the results upload
        heartbeat.done.set()
        log("job_completed", job_id, attempt=lease.attempt, committed=won, seconds=round(time.monotonic() - started, 3))
    except _ShutdownRequested:
        heartbeat.done.set()
        _safely(lambda: lease.release("released by a stopping worker"), job_id, log)
        log("job_released", job_id, attempt=lease.attempt)
    except LeaseLost as error:
        log("job_abandoned", job_id, reason=str(error))
    except JobCancelled:
        heartbeat.done.set()
        _safely(lease.drop, job_id, log)
        log("job_cancelled", job_id)
    except (PermanentJobError, ManifestError, RenderError) as error:
        heartbeat.done.set()
        reason = str(error)
        _safely(lambda: lease.fail(reason, retry=False), job_id, log)
        log("job_failed", job_id, attempt=lease.attempt, retry=False, error=reason)
    except Exception as error:  # any other crash of a handler is one failed attempt, never the agent's end
        heartbeat.done.set()
        message = redact(f"{type(error).__name__}: {error}")
        status = _safely(lambda: lease.fail(message, retry=True), job_id, log)
        log("job_failed", job_id, attempt=lease.attempt, retry=status is not None and status.state == "pending", error=message)
    finally:
        heartbeat.done.set()
        heartbeat.join()
        (job_dir / _FINISHED_MARKER).touch()


def _safely(action: Callable[[], Any], job_id: str, log: EventLog) -> Any:
    """Run a bookkeeping step; a lost lease or store error is logged, never raised."""
    try:
        return action()
    except PoseFactoryError as error:
        log("bookkeeping_failed", job_id, error=str(error))
        return None


def fetch_assets(store: ObjectStore, manifest: JobManifest, workspace: Path) -> dict[str, Path]:
    """The job's characters (``{name: file}``) and BVH motions (``{asset key: file}``), fetched into the
    workspace cache and verified by SHA-256."""
    params = manifest.params if isinstance(manifest.params, RenderParams) else manifest.params.then_render
    if params is None:
        return {}
    cache = workspace / "cache" / "characters"
    files = {ref.name: fetch_character(store, ref, cache) for ref in params.characters}
    # BVH motions are keyed by their asset key, which contains "/" and so never equals a character name.
    motions = workspace / "cache" / "motions"
    for motion in params.motions:
        if not motion.is_library:
            motions.mkdir(parents=True, exist_ok=True)
            files[motion.asset_key] = fetch_motion(store, motion, motions)
    return files


def _clean_workspace(workspace: Path, max_age_s: float, log: EventLog) -> None:
    """Remove finished job folders whose finish marker is older than ``max_age_s``."""
    now = time.time()
    for folder in (workspace / "jobs").iterdir():
        marker = folder / _FINISHED_MARKER
        try:
            if marker.is_file() and now - marker.stat().st_mtime > max_age_s:
                shutil.rmtree(folder)
                log("workspace_cleaned", folder.name if is_safe_slug(folder.name) else None, folder=str(folder))
        except OSError as error:
            log("workspace_clean_failed", None, folder=str(folder), error=error.strerror)


def add_agent_options(parser: argparse.ArgumentParser) -> None:
    """The agent's options, shared by ``pose-factory agent`` and ``headless/agent.py``."""
    parser.add_argument(
        "--store", help="job store: file:///folder or s3://bucket/prefix (default: $POSE_FACTORY_STORE, then local)"
    )
    parser.add_argument("--once", action="store_true", help="process every claimable pending job, then exit 0")
    parser.add_argument("--max-jobs", type=int, metavar="N", help="exit after N jobs")
    parser.add_argument(
        "--poll", type=float, metavar="SECONDS", help=f"seconds between polls (default {defaults.POLL_INTERVAL_S:g})"
    )
    parser.add_argument(
        "--lease-seconds", type=float, metavar="S", help=f"lease length in seconds (default {defaults.LEASE_SECONDS:g})"
    )
    parser.add_argument("--worker-id", metavar="ID", help="name in leases and status (default <host>-<pid>)")
    parser.add_argument(
        "--workspace",
        metavar="DIR",
        help=f"work folder for job files and the asset cache (default $WORKSPACE_ROOT, then {defaults.WORKSPACE_ROOT} "
        f"where it exists and is writable, as on a pod, else {user_cache_dir() / AGENT_CACHE_FOLDER})",
    )
    parser.add_argument(
        "--stop-pod-when-idle",
        type=float,
        metavar="MINUTES",
        help="on RunPod: stop this pod once no job has come for MINUTES, and after --max-jobs "
        "(default $POSE_FACTORY_STOP_POD_WHEN_IDLE, else 0 = never; needs RUNPOD_POD_ID and RUNPOD_API_KEY)",
    )
    parser.add_argument("--log-file", metavar="PATH", help="also append the JSON log lines to PATH")
    parser.add_argument(
        "--device",
        choices=DEVICE_CHOICES,
        help="render device: auto (a GPU when Blender sees one), cpu, or gpu (exit 2 without one); "
        "default: $POSE_FACTORY_DEVICE, auto",
    )


def workspace_folder(configured: str, is_default: bool) -> Path:
    """Where the agent keeps its job folders and asset cache (the ``agent_started`` event names it).

    A workspace the user chose (``--workspace``, ``$WORKSPACE_ROOT``, the config file) is created and must
    take files. The default, the pod's ``/workspace``, is used only where it already exists and takes files
    (a pod); anywhere else the agent works in the user cache folder instead of creating a folder at the
    root of a laptop's file system.

    Raises:
        UsageError: the chosen workspace is a file or cannot be written.
    """
    if not is_default:
        return writable_folder(Path(configured).expanduser().resolve(), "workspace")
    pod_workspace = Path(configured)
    if pod_workspace.is_dir():
        try:
            return writable_folder(pod_workspace, "workspace")
        except UsageError:
            pass  # a read-only /workspace is not a pod's: work in the cache folder
    return writable_folder(user_cache_dir() / AGENT_CACHE_FOLDER, "workspace")


def _log_file(path: str) -> Path:
    file = Path(path).expanduser()
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--log-file {file}: {error.strerror}") from None
    return file


def _renders(handlers: Mapping[str, JobHandler]) -> bool:
    """True when the built-in render handler is in the table (not a test's stand-in): then the agent
    imports Blender at start to choose and log the render device."""
    return handlers.get("render") is render_job


def render_device_record(requested: str) -> dict[str, Any]:
    """Choose the render device (``auto``, ``cpu``, ``gpu``) for this agent's jobs; the record it logs.

    Without Blender (no bpy module), the record says so and jobs that render will fail.

    Raises:
        UsageError: ``gpu`` and Blender sees no GPU (the agent exits 2 before claiming anything).
    """
    try:
        from .render.devices import select_device
    except ImportError as error:
        return {"requested": requested, "device": "none", "error": f"Blender is not available here ({error})"}
    return select_device(requested).record()


def run_from_args(args: argparse.Namespace, handlers: Mapping[str, JobHandler] = BUILTIN_HANDLERS) -> int:
    """Resolve settings from parsed options, install signal handlers, and run the agent."""
    if args.max_jobs is not None and args.max_jobs < 1:
        raise UsageError("--max-jobs must be at least 1")
    if args.worker_id is not None and not is_safe_slug(args.worker_id):
        raise UsageError(f"--worker-id {args.worker_id!r} must use letters, digits, _ and - only")
    settings = load_settings(
        {
            "store": args.store,
            "poll_interval": args.poll,
            "lease_seconds": args.lease_seconds,
            "workspace_root": args.workspace,
            "stop_pod_when_idle": args.stop_pod_when_idle,
            "device": getattr(args, "device", None),
        },
        config_path=getattr(args, "config", None),
    )
    device = render_device_record(settings.device) if _renders(handlers) else None
    stop_pod = own_pod_stopper(settings) if settings.stop_pod_when_idle > 0 else None
    pod_id = own_pod_id() or ""
    worker_id = args.worker_id or default_worker_id()
    if pod_id and not worker_on_pod(worker_id, pod_id):
        worker_id = pod_worker_id(pod_id, worker_id)  # `pods terminate` finds a pod's leases by this prefix
    options = AgentOptions(
        worker_id=worker_id,
        workspace=workspace_folder(settings.workspace_root, settings.sources.get("workspace_root") == "default"),
        once=args.once,
        max_jobs=args.max_jobs,
        poll_seconds=settings.poll_interval,
        lease_seconds=settings.lease_seconds,
        max_attempts=settings.max_attempts,
        pod_id=pod_id,
        stop_pod_when_idle_s=settings.stop_pod_when_idle * 60.0,
    )
    stop = threading.Event()
    log = EventLog(options.worker_id, file=_log_file(args.log_file) if args.log_file else None)

    def request_stop(signum: int, _frame: Any) -> None:
        log("stop_requested", signal=signal.Signals(signum).name)
        stop.set()

    previous = {signum: signal.signal(signum, request_stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    notices = logging.getLogger(__package__)
    previous_notices, notices.handlers = notices.handlers, [_EventNotices(log)]
    try:
        run_agent(open_store(settings.store, settings), options, handlers, stop, log, stop_pod, device)
    finally:
        notices.handlers = previous_notices
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def main(argv: list[str] | None = None, handlers: Mapping[str, JobHandler] = BUILTIN_HANDLERS) -> int:
    """Entry point of ``headless/agent.py``: parse ``argv``, run, and map errors to exit codes."""
    parser = argparse.ArgumentParser(prog="agent", description="Pose Factory worker: runs queued jobs from a store.")
    parser.add_argument("--config", help="YAML config file")
    add_agent_options(parser)
    args = parser.parse_args(argv)
    try:
        return run_from_args(args, handlers)
    except UsageError as error:
        print(f"agent: error: {redact(str(error))}", file=sys.stderr)
        return 2
    except PoseFactoryError as error:
        print(f"agent: {redact(str(error))}", file=sys.stderr)
        return 1
