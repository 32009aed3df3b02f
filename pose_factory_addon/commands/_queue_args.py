"""What the queue verbs (submit, status, wait, download, cancel) share: the store option and job ids."""

from __future__ import annotations

import argparse

from ..core.config import BACKENDS, Settings, load_settings
from ..core.errors import ManifestError, UsageError
from ..core.manifest import validate_job_id
from ..core.queue import JobQueue
from ..core.serverless import ServerlessJobs


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


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    """``--backend queue|serverless`` and ``--endpoint ID`` (settings ``backend``, ``serverless_endpoint``)."""
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        help="queue: the job store's queue, run by agents; serverless: a RunPod Serverless endpoint "
        "(default: $POSE_FACTORY_BACKEND, then queue)",
    )
    parser.add_argument(
        "--endpoint", metavar="ID", help="RunPod Serverless endpoint id (default: $POSE_FACTORY_SERVERLESS_ENDPOINT)"
    )


def open_jobs(args: argparse.Namespace, job_id: str | None = None) -> tuple[JobQueue | ServerlessJobs, Settings]:
    """Where a job lives: the Serverless endpoint when ``--backend serverless`` (or the setting) says so or
    when the store records ``job_id`` as sent there, else the queue."""
    queue, _ = open_queue(args)
    chosen = load_settings(
        {"store": args.store, "backend": getattr(args, "backend", None), "serverless_endpoint": getattr(args, "endpoint", None)},
        config_path=args.config,
    )
    serverless = ServerlessJobs(queue, chosen)
    if chosen.backend == "serverless" or (job_id is not None and serverless.mapping(job_id) is not None):
        return serverless, chosen
    return queue, chosen
