"""What the queue verbs (submit, status, wait, download, cancel) share: the store option and job ids."""

from __future__ import annotations

import argparse

from ..core.config import Settings, load_settings
from ..core.errors import ManifestError, UsageError
from ..core.manifest import validate_job_id
from ..core.queue import JobQueue


def add_store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        help="job store: file:///folder or s3://bucket/prefix (default: $POSE_FACTORY_STORE, then a local folder)",
    )


def add_job_id_argument(parser: argparse.ArgumentParser, **options: object) -> None:
    """The ``JOB_ID`` positional (``options`` such as ``nargs="?"`` pass through to argparse)."""
    parser.add_argument(
        "job_id", metavar="JOB_ID", help="a job id as `submit` prints it: <type>_<YYYYMMDD>_<HHMMSS>_<8 hex>", **options
    )


def job_id_argument(text: str) -> str:
    """A job id from the command line; anything malformed is a usage error (exit 2)."""
    try:
        return validate_job_id(text)
    except ManifestError as error:
        raise UsageError(str(error)) from None


def open_queue(args: argparse.Namespace) -> tuple[JobQueue, Settings]:
    """The queue on ``--store`` (else ``$POSE_FACTORY_STORE``, else the user's local store)."""
    settings = load_settings({"store": args.store}, config_path=args.config)
    return JobQueue.from_settings(settings), settings
