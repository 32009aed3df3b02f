"""``pose-factory status``: a table of jobs, or one job in detail; ``--json`` for scripts."""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from typing import Any

from ..core.errors import QueueError
from ..core.queue import JobStatus
from ._queue_args import add_store_option, job_id_argument, open_queue
from ._tables import format_table

_ERROR_COLUMN_WIDTH = 60


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status", help="show jobs and their state", description="List every job, or show one job in detail."
    )
    parser.add_argument("job_id", nargs="?", metavar="JOB_ID")
    parser.add_argument("--json", action="store_true", help="print a JSON list of job objects")
    add_store_option(parser)
    parser.set_defaults(func=run_status)


def run_status(args: argparse.Namespace) -> int:
    job_id = job_id_argument(args.job_id) if args.job_id else None
    queue, _ = open_queue(args)
    if job_id is None:
        jobs = queue.list_jobs()
    else:
        status = queue.status(job_id)
        if status is None:
            raise QueueError(f"no job {job_id} in {queue.store.url}")
        jobs = [status]
    if args.json:
        print(json.dumps([job.to_dict() for job in jobs], indent=2))
    elif job_id is not None:
        _print_detail(jobs[0])
    elif not jobs:
        print(f"no jobs in {queue.store.url}")
    else:
        print(format_table(["JOB ID", "STATE", "PROGRESS", "ATTEMPTS", "AGE", "WORKER", "ERROR"], [_row(job) for job in jobs]))
    return 0


def _age(timestamp: str) -> str:
    try:
        seconds = time.time() - datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(int(seconds), 0)}s"


def _progress(job: JobStatus) -> str:
    total = job.progress.get("total", 0)
    return f"{job.progress.get('done', 0)}/{total}" if total else "-"


def _row(job: JobStatus) -> list[str]:
    error = job.error if len(job.error) <= _ERROR_COLUMN_WIDTH else job.error[: _ERROR_COLUMN_WIDTH - 3] + "..."
    attempts = f"{job.attempts}/{job.max_attempts}" if job.state != "rejected" else "-"
    return [job.job_id, job.state, _progress(job), attempts, _age(job.created_at), job.worker or "-", error or "-"]


def _print_detail(job: JobStatus) -> None:
    fields = [
        ("job id", job.job_id),
        ("type", job.job_type),
        ("state", job.state),
        ("progress", _progress(job)),
        ("attempts", f"{job.attempts} of {job.max_attempts}"),
        ("worker", job.worker or "-"),
        ("created", job.created_at or "-"),
        ("started", job.started_at or "-"),
        ("finished", job.finished_at or "-"),
        ("updated", job.updated_at or "-"),
        ("error", job.error or "-"),
    ]
    for name, value in fields:
        print(f"{name:<9} {value}")
