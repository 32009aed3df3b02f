"""``pose-factory preview DATASET --out sheet.png``: a contact sheet of a dataset with the skeletons drawn.

The picture to look at first: every sampled image with its labels on top, so wrong framing,
swapped sides or misplaced keypoints are visible at a glance.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..core.contact_sheets import DEFAULT_MAX_IMAGES, DEFAULT_TILE, write_contact_sheet
from ..core.output_paths import image_file
from ..core.skeletons import KEYPOINT_SETS


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "preview",
        help="contact sheet of a rendered dataset with skeletons drawn",
        description="Draw evenly chosen images of a dataset, each with its skeleton, onto one image: framing, left/right "
        "and keypoint placement at a glance.",
    )
    parser.add_argument("dataset", type=Path, metavar="DATASET", help="folder written by `pose-factory render`")
    parser.add_argument(
        "--out", type=Path, required=True, metavar="PNG", help="image file to write the sheet to (.png, .jpg or .webp)"
    )
    parser.add_argument("--labels", choices=tuple(KEYPOINT_SETS), help="skeleton to draw (default coco17 when present)")
    parser.add_argument(
        "--max-images",
        type=int,
        default=DEFAULT_MAX_IMAGES,
        metavar="N",
        help="images on the sheet, at least 1 (default %(default)s)",
    )
    parser.add_argument("--columns", type=int, metavar="N", help="tiles per row (default: views per frame, at most 8)")
    parser.add_argument(
        "--tile", type=int, default=DEFAULT_TILE, metavar="PX", help="tile size in pixels, at least 16 (default %(default)s)"
    )
    parser.add_argument(
        "--mask-outline", action="store_true", help="outline the person mask (images rendered with --passes mask)"
    )
    parser.set_defaults(func=run_preview)


def run_preview(args: argparse.Namespace) -> int:
    out = image_file(args.out, "--out")
    count = write_contact_sheet(
        args.dataset, out, args.labels, args.max_images, args.columns, args.tile, mask_outline=args.mask_outline
    )
    print(f"{count} images drawn to {args.out}", file=sys.stderr)
    return 0
