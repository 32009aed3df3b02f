"""``pose-factory wait``: block until a job is final, with a progress bar; exit 0/1/2."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..core import defaults
from ..core.errors import QueueError
from ..core.queue import JobQueue, JobStatus
from ..core.serverless import ServerlessJobs
from ._queue_args import add_backend_options, add_job_id_argument, add_store_option, job_id_argument, open_jobs

EXIT_COMPLETED = 0
EXIT_FAILED = 1
EXIT_TIMEOUT = 2
_BAR_WIDTH = 30


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "wait",
        help="wait for a job to finish",
        description="Wait until the job is completed (exit 0), failed or cancelled (exit 1), or the timeout passes (exit 2).",
    )
    add_job_id_argument(parser)
    parser.add_argument("--timeout", type=float, metavar="S", help="seconds to wait (default: wait_timeout setting, 3600)")
    add_store_option(parser)
    add_backend_options(parser)
    parser.set_defaults(func=run_wait)


def run_wait(args: argparse.Namespace) -> int:
    job_id = job_id_argument(args.job_id)
    jobs, settings = open_jobs(args, job_id)
    timeout = args.timeout if args.timeout is not None else settings.wait_timeout
    return wait_for_job(jobs, job_id, timeout, min(settings.poll_interval, defaults.WAIT_POLL_CAP_S))


def _describe(status: JobStatus) -> str:
    done, total = status.progress.get("done", 0), status.progress.get("total", 0)
    if sys.stderr.isatty() and total:
        filled = int(_BAR_WIDTH * done / total)
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        return f"\r{status.job_id} [{bar}] {done}/{total} {status.state} (attempt {status.attempts})"
    progress = f" {done}/{total} images" if total else ""
    return f"{status.job_id}: {status.state}{progress} (attempt {status.attempts}/{status.max_attempts})\n"


def wait_for_job(queue: JobQueue | ServerlessJobs, job_id: str, timeout: float, poll_seconds: float) -> int:
    """Poll the job's status until it is final; prints progress on stderr. Returns the exit status."""
    deadline = time.monotonic() + timeout
    shown = ""
    while True:
        status = queue.status(job_id)
        if status is None:
            raise QueueError(f"no job {job_id} in {queue.store.url}")
        line = _describe(status)
        if line != shown:
            sys.stderr.write(line)
            sys.stderr.flush()
            shown = line
        if status.state == "completed":
            sys.stderr.write("\n" if sys.stderr.isatty() else "")
            return EXIT_COMPLETED
        if status.state in ("failed", "cancelled"):
            reason = f": {status.error}" if status.error else ""
            print(f"\npose-factory wait: job {job_id} {status.state}{reason}", file=sys.stderr)
            return EXIT_FAILED
        if time.monotonic() >= deadline:
            print(f"\npose-factory wait: timed out after {timeout:g} s; job {job_id} is still {status.state}", file=sys.stderr)
            return EXIT_TIMEOUT
        time.sleep(max(0.05, min(poll_seconds, deadline - time.monotonic())))
