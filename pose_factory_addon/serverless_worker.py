"""The RunPod Serverless worker: one request = one of our job manifests, run by the agent's own handlers.

``headless/serverless_handler.py`` starts it with ``runpod.serverless.start({"handler": handler})``.
RunPod owns the queue, the autoscaling and the retries; this module only runs one job:

1. the request's ``input`` is validated exactly like a queued manifest (no code, no paths, bounds);
2. characters and motions come from the job store (``POSE_FACTORY_STORE``) by content hash;
3. the built-in handler of ``job_type`` renders into a workspace folder, reporting progress through
   ``runpod.serverless.progress_update`` (``{"job_id", "done", "total"}``, at most every 0.5 s) and
   checking between images whether the job was cancelled (``pose-factory cancel`` writes the
   ``cancelled`` status into the store);
4. results go to ``results/<job_id>/`` with ``_complete.json`` last (:func:`~.core.queue.commit_results`,
   so a retried request never commits twice), then the final status key, as an agent writes them.

Errors are returned as ``{"error": "<one line>"}`` (secrets redacted), which RunPod reports as FAILED.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .agent import BUILTIN_HANDLERS, JobHandler, fetch_assets, publish_characters, render_device_record, workspace_folder
from .core.config import load_settings
from .core.errors import ManifestError, PoseFactoryError, RenderError
from .core.manifest import JobManifest, manifest_from_dict
from .core.queue import JobCancelled, JobQueue, PermanentJobError, commit_results, iso_time
from .core.security import redact, resolve_under, safe_slug
from .core.store import open_store

ProgressUpdate = Callable[[Mapping[str, Any], Any], None]
PROGRESS_INTERVAL_S = 0.5
CANCEL_CHECK_INTERVAL_S = 2.0


def worker_id() -> str:
    """``serverless-<RunPod pod id or host>``, made safe (it is written into statuses)."""
    return safe_slug(f"serverless-{os.environ.get('RUNPOD_POD_ID') or socket.gethostname()}")


def handle(
    job: Mapping[str, Any],
    progress_update: ProgressUpdate | None = None,
    handlers: Mapping[str, JobHandler] = BUILTIN_HANDLERS,
) -> dict[str, Any]:
    """Run one RunPod request (``{"id": …, "input": <manifest>}``); returns the output or ``{"error": …}``."""
    try:
        manifest = manifest_from_dict(job.get("input"))
    except ManifestError as error:
        return {"error": redact(f"invalid manifest: {error}")}
    try:
        settings = load_settings()
        queue = JobQueue(open_store(settings.store, settings), max_attempts=1)
        workspace = workspace_folder(settings.workspace_root, settings.sources.get("workspace_root") == "default")
    except PoseFactoryError as error:
        return {"error": redact(f"job {manifest.job_id}: {error}")}
    return _run(queue, manifest, job, workspace, progress_update, handlers)


def _run(
    queue: JobQueue,
    manifest: JobManifest,
    job: Mapping[str, Any],
    workspace: Path,
    progress_update: ProgressUpdate | None,
    handlers: Mapping[str, JobHandler],
) -> dict[str, Any]:
    job_id = manifest.job_id
    final = queue.final(job_id)
    if final is not None and final.state != "failed":
        if final.state == "completed":
            return {"job_id": job_id, "state": "completed", "results": f"results/{job_id}/", "already": True}
        return {"error": f"job {job_id} was {final.state} before it started"}
    started = iso_time(time.time())
    me = worker_id()
    job_dir = resolve_under(workspace, "jobs", job_id)
    shutil.rmtree(job_dir, ignore_errors=True)
    out_dir = job_dir / "output"
    out_dir.mkdir(parents=True)
    counts = {"done": 0, "total": 0}
    clock = {"progress": 0.0, "cancel": time.monotonic()}

    cancelled = JobCancelled(f"job {job_id} was cancelled")
    stopped: list[JobCancelled] = []

    def check_cancelled() -> None:
        clock["cancel"] = time.monotonic()
        current = queue.final(job_id)
        if current is not None and current.state == "cancelled":
            stopped.append(cancelled)
            raise cancelled

    def progress(done: int, total: int) -> None:
        counts.update(done=int(done), total=int(total))
        now = time.monotonic()
        if now - clock["cancel"] >= CANCEL_CHECK_INTERVAL_S:
            check_cancelled()
        if progress_update is not None and (now - clock["progress"] >= PROGRESS_INTERVAL_S or done >= total):
            clock["progress"] = now
            progress_update(job, {"job_id": job_id, "done": int(done), "total": int(total)})

    def finish(state: str, error: str, committed: dict[str, Any] | None = None) -> None:
        """Write the job's final status (the commit's worker and attempt count for a completed job)."""
        status = queue.final_status(job_id, state, error, me, 1, counts, started, manifest, committed)
        queue.record_final(status)

    try:
        handler = handlers.get(manifest.job_type)
        if handler is None:
            raise PermanentJobError(f"job_type {manifest.job_type!r} has no handler in this worker")
        files = fetch_assets(queue.store, manifest, workspace)
        handler(manifest, files, out_dir, progress)
        check_cancelled()
        publish_characters(queue, out_dir)
        won, record = commit_results(queue, job_id, me, 1, out_dir)
        finish("completed", "", record)
        return {
            "job_id": job_id,
            "state": "completed",
            "results": f"results/{job_id}/",
            "files": len(record.get("files", [])),
            "committed": won,
        }
    except JobCancelled as error:
        return {"error": str(error)}
    except Exception as error:
        if stopped:  # the renderer reports a character it was stopped in as a failure of that character
            return {"error": str(cancelled)}
        return _failed(error, finish)
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)


def _failed(error: Exception, finish: Callable[[str, str], None]) -> dict[str, Any]:
    """Record the failure as the job's final status and return it as RunPod's error output."""
    if isinstance(error, PermanentJobError | ManifestError | RenderError | PoseFactoryError):
        message = redact(str(error))
    else:  # any crash is this request's failure, reported in one line, never a traceback
        message = redact(f"{type(error).__name__}: {error}")
    _safely(lambda: finish("failed", message))
    return {"error": message}


def _safely(action: Callable[[], None]) -> None:
    try:
        action()
    except PoseFactoryError as error:
        print(redact(f"serverless worker: could not record the failure: {error}"), file=sys.stderr)


def main() -> None:
    """Start the RunPod worker loop (RunPod's own arguments, e.g. ``--rp_serve_api``, are read by the SDK)."""
    import runpod

    device = render_device_record(load_settings().device)
    print(f"serverless worker {worker_id()}: render device {device}", file=sys.stderr, flush=True)

    def handler(job: dict[str, Any]) -> dict[str, Any]:
        return handle(job, runpod.serverless.progress_update)

    runpod.serverless.start({"handler": handler})
