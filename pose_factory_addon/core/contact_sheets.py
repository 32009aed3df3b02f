"""A contact sheet of a rendered dataset: sampled images with their skeletons (and person-mask outlines) drawn.

The picture to look at first: wrong framing, swapped sides or misplaced keypoints are visible at
a glance. Shared by ``pose-factory preview``, the demo and the Blender panel.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from .dataset import DATASET_FILE, read_labels
from .drawing import contact_sheet, draw_mask_outline, draw_skeleton
from .errors import UsageError
from .security import resolve_under

DEFAULT_MAX_IMAGES: Final = 48
DEFAULT_TILE: Final = 256


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
    mask_outline: bool = False,
) -> int:
    """Draw up to ``max_images`` labelled images of ``dataset`` onto one PNG at ``out``; returns the tile count.

    ``mask_outline`` also outlines the person mask of images rendered with the ``mask`` pass.

    Raises:
        UsageError: no dataset, no images, no such label set, or bad sizes.
    """
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
        mask = label.get("passes", {}).get("mask")
        if mask_outline and mask:
            with Image.open(resolve_under(dataset, mask)) as mask_image:
                drawn = draw_mask_outline(drawn, mask_image)
        tiles.append((drawn, f"{label['character']} {label['view']} f{label['frame']}"))
    views = int(summary["spec"]["angles"]) * len(summary["spec"]["elevations"])
    out.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(tiles, columns or min(views, 8), tile).save(out)
    return len(tiles)
