"""``pose-factory status``: a table of jobs, or one job in detail; ``--json`` for scripts."""

from __future__ import annotations

import argparse
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

from ..core.errors import QueueError, UsageError
from ..core.queue import LIST_STATES, JobStatus, iso_time
from ..core.serverless import ServerlessJobs
from ._queue_args import add_backend_options, add_store_option, job_id_argument, open_jobs, open_queue
from ._tables import format_table

_ERROR_COLUMN_WIDTH = 60


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "status", help="show jobs and their state", description="List every job, or show one job in detail."
    )
    parser.add_argument("job_id", nargs="?", metavar="JOB_ID")
    parser.add_argument("--json", action="store_true", help="print a JSON list of job objects")
    parser.add_argument(
        "--state", metavar="STATE,...", help=f"only jobs in these states ({', '.join(LIST_STATES)}), comma-separated"
    )
    parser.add_argument(
        "--since", metavar="WHEN", help="only jobs submitted since WHEN: an ISO-8601 UTC time or an age such as 30m, 6h, 2d"
    )
    parser.add_argument("--limit", type=int, metavar="N", help="only the newest N jobs")
    add_store_option(parser)
    add_backend_options(parser)
    parser.set_defaults(func=run_status)


def run_status(args: argparse.Namespace) -> int:
    job_id = job_id_argument(args.job_id) if args.job_id else None
    states = [state.strip() for state in (args.state or "").split(",") if state.strip()] or None
    unknown = sorted(set(states or ()) - set(LIST_STATES))
    if unknown:
        raise UsageError(f"--state {', '.join(unknown)}: unknown (choose from {', '.join(LIST_STATES)})")
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    since = since_time(args.since) if args.since else None
    queue, settings = open_queue(args)
    if job_id is None:
        jobs = ServerlessJobs(queue, settings).list_jobs(states, since, args.limit)
    else:
        jobs, _ = open_jobs(args, job_id)
        status = jobs.status(job_id)
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


_AGE = re.compile(r"^(\d+)\s*([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def since_time(text: str, now: float | None = None) -> str:
    """``--since`` as an ISO-8601 UTC time (``…Z``): an age (``90s``, ``30m``, ``6h``, ``2d``) or a timestamp.

    Raises:
        UsageError: neither form.
    """
    value = text.strip()
    age = _AGE.match(value.lower())
    if age:
        return iso_time((time.time() if now is None else now) - int(age.group(1)) * _UNIT_SECONDS[age.group(2)])
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {text!r}: expected an age such as 30m, 6h, 2d or an ISO-8601 time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return iso_time(moment.timestamp())


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
