"""``pose-factory qa DATASET``: check the labels against an independent detector (MediaPipe Pose).

Prints a short summary, writes ``qa.json`` and ``qa.html``, and adds a ``qa`` block per image to
``dataset.json``; ``--fail-above`` makes it a gate for scripts and CI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..core.errors import UsageError
from ..core.output_paths import writable_folder
from ._progress import ProgressBar


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "qa",
        help="check a dataset's labels against MediaPipe Pose (needs `make qa-setup`)",
        description="Run MediaPipe Pose on every image of DATASET and compare its landmarks with the labels; "
        "writes qa.json and qa.html and adds a qa block per image to dataset.json.",
    )
    parser.add_argument("dataset", type=Path, metavar="DATASET", help="folder written by `pose-factory render`")
    parser.add_argument("--out", type=Path, metavar="DIR", help="where qa.json and qa.html go (default: DATASET)")
    parser.add_argument(
        "--fail-above",
        type=float,
        metavar="E",
        help="exit with status 1 when the median body error (body heights) is above E, e.g. 0.04",
    )
    parser.set_defaults(func=run_qa)


def run_qa(args: argparse.Namespace) -> int:
    from ..core.qa import summary_lines  # numpy: only when the verb runs, not for every `pose-factory --help`
    from ..core.qa_check import check_dataset

    if args.fail_above is not None and not args.fail_above > 0:
        raise UsageError("--fail-above must be a positive number of body heights, for example 0.04")
    if args.out is not None:
        writable_folder(args.out, "--out")
    bar = ProgressBar("qa")
    try:
        result = check_dataset(args.dataset, args.out, progress=bar)
    finally:
        bar.close()
    for line in summary_lines(result.summary):
        print(line)
    print(f"MediaPipe {result.mediapipe_version}: {result.seconds_per_image:.3f} s per image")
    print(f"report: {result.html_path} (data: {result.json_path})")
    median = result.summary["body_error"]["median"]
    if args.fail_above is not None and (median is None or median > args.fail_above):
        shown = "n/a (nothing detected)" if median is None else f"{median:.3f}"
        print(f"pose-factory qa: median body error {shown} is above --fail-above {args.fail_above}", file=sys.stderr)
        return 1
    return 0
