"""``pose-factory preview DATASET --out sheet.png``: a contact sheet of a dataset with the skeletons drawn.

The picture to look at first: every sampled image with its labels on top, so wrong framing,
swapped sides or misplaced keypoints are visible at a glance.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..core.dataset import DATASET_FILE, read_labels
from ..core.drawing import contact_sheet, draw_skeleton
from ..core.errors import UsageError
from ..core.security import resolve_under
from ..core.skeletons import KEYPOINT_SETS

DEFAULT_MAX_IMAGES = 48
DEFAULT_TILE = 256


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("preview", help="contact sheet of a rendered dataset with skeletons drawn")
    parser.add_argument("dataset", type=Path, metavar="DATASET", help="folder written by `pose-factory render`")
    parser.add_argument("--out", type=Path, required=True, metavar="PNG", help="where to write the contact sheet")
    parser.add_argument("--labels", choices=tuple(KEYPOINT_SETS), help="skeleton to draw (default coco17 when present)")
    parser.add_argument(
        "--max-images", type=int, default=DEFAULT_MAX_IMAGES, metavar="N", help="images on the sheet (default 48)"
    )
    parser.add_argument("--columns", type=int, metavar="N", help="tiles per row (default: views per frame, at most 8)")
    parser.add_argument("--tile", type=int, default=DEFAULT_TILE, metavar="PX", help="tile size in pixels (default 256)")
    parser.set_defaults(func=run_preview)


def _evenly(items: list[Any], count: int) -> list[Any]:
    if len(items) <= count:
        return items
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)] if count > 1 else items[:1]


def write_contact_sheet(
    dataset: Path,
    out: Path,
    label_set: str | None = None,
    max_images: int = DEFAULT_MAX_IMAGES,
    columns: int | None = None,
    tile: int = DEFAULT_TILE,
) -> int:
    """Draw up to ``max_images`` labelled images of ``dataset`` onto one PNG at ``out``; returns the tile count."""
    from PIL import Image

    summary_path = dataset / DATASET_FILE
    if not summary_path.is_file():
        raise UsageError(f"{dataset}: no {DATASET_FILE} (render a dataset first with `pose-factory render`)")
    if max_images < 1 or tile < 16:
        raise UsageError("--max-images must be at least 1 and --tile at least 16")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    labels = _evenly(read_labels(dataset, summary), max_images)
    if not labels:
        raise UsageError(f"{dataset}: the dataset has no images")
    chosen = label_set or ("coco17" if "coco17" in labels[0]["keypoints"] else next(iter(labels[0]["keypoints"])))
    tiles = []
    for label in labels:
        if chosen not in label["keypoints"]:
            raise UsageError(f"{dataset}: images have no {chosen} labels")
        with Image.open(resolve_under(dataset, label["image"])) as image:
            drawn = draw_skeleton(image, label["keypoints"][chosen], chosen)
        tiles.append((drawn, f"{label['character']} {label['view']} f{label['frame']}"))
    views = int(summary["spec"]["angles"]) * len(summary["spec"]["elevations"])
    out.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(tiles, columns or min(views, 8), tile).save(out)
    return len(tiles)


def run_preview(args: argparse.Namespace) -> int:
    count = write_contact_sheet(args.dataset, args.out, args.labels, args.max_images, args.columns, args.tile)
    print(f"{count} images drawn to {args.out}", file=sys.stderr)
    return 0
