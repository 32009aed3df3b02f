"""Person masks as COCO wants them: run-length encoding, area and box, in numpy.

COCO's uncompressed RLE runs over the mask in column-major (Fortran) order, starting with a
run of zeros; ``pycocotools`` reads it (``frPyObjects``) to get areas and masks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def rle_encode(mask: npt.ArrayLike) -> dict[str, Any]:
    """``{"size": [height, width], "counts": [...]}`` of a boolean mask [H, W] (COCO uncompressed RLE)."""
    values = np.asarray(mask, dtype=bool)
    flat = values.flatten(order="F").astype(np.int8)
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [len(flat)]])
    counts = np.diff(bounds).tolist()
    if len(flat) and flat[0]:
        counts = [0, *counts]
    return {"size": [int(values.shape[0]), int(values.shape[1])], "counts": [int(count) for count in counts]}


def mask_bbox(mask: npt.ArrayLike) -> list[float]:
    """The tight ``[x, y, w, h]`` (pixels, edges of the covered pixels) of a mask [H, W]; zeros when it is empty."""
    values = np.asarray(mask, dtype=bool)
    rows, columns = np.nonzero(values.any(axis=1))[0], np.nonzero(values.any(axis=0))[0]
    if len(rows) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [float(columns[0]), float(rows[0]), float(columns[-1] + 1 - columns[0]), float(rows[-1] + 1 - rows[0])]
