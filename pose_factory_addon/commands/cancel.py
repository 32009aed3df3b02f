"""``pose-factory cancel``: cancel a pending or running job."""

from __future__ import annotations

import argparse
from typing import Any

from ._queue_args import add_backend_options, add_job_id_argument, add_store_option, job_id_argument, open_jobs


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cancel", help="cancel a job", description="Cancel a job; a running job stops at its next progress report."
    )
    add_job_id_argument(parser)
    add_store_option(parser)
    add_backend_options(parser)
    parser.set_defaults(func=run_cancel)


def run_cancel(args: argparse.Namespace) -> int:
    job_id = job_id_argument(args.job_id)
    jobs, _ = open_jobs(args, job_id)
    status = jobs.cancel(job_id)
    print(f"{status.job_id}: {status.state}")
    return 0
