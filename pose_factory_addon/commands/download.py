"""``pose-factory download``: fetch a completed job's results, verified against ``_complete.json``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..core import defaults
from ..core.output_paths import refuse_file_in_the_way
from ._queue_args import add_job_id_argument, add_store_option, job_id_argument, open_queue


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "download",
        help="download a completed job's results",
        description="Download and verify (sizes and SHA-256) every result file; nothing is written unless all of them check out.",
    )
    add_job_id_argument(parser)
    parser.add_argument("--out", metavar="DIR", help="target folder (default data/working/<job_id>)")
    parser.add_argument("--force", action="store_true", help="overwrite files in a non-empty target folder")
    add_store_option(parser)
    parser.set_defaults(func=run_download)


def run_download(args: argparse.Namespace) -> int:
    job_id = job_id_argument(args.job_id)
    target = Path(args.out) if args.out else Path(defaults.DOWNLOAD_ROOT) / job_id
    refuse_file_in_the_way(target, "--out")
    queue, _ = open_queue(args)
    written = queue.download_results(job_id, target, force=args.force)
    print(f"{len(written)} files verified and written to {target.resolve()}")
    return 0
