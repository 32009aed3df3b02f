"""Label QA: how well our keypoints agree with an independent detector (MediaPipe Pose), as plain numpy.

Agreement is evidence, not ground truth: MediaPipe is itself an estimate, and its landmarks sit
at slightly different anatomical places than rig joints, so a small error floor is expected.
What this module catches are the mistakes that move every label the same way (a shift, a flip
of left and right, inverted visibility) or that make some images disagree far more than the rest.

Errors are pixel distances divided by the body height in pixels, so images of any resolution
and framing compare. Arrays: our keypoints are ``[K, 3]`` (x px, y px, v in {0, 1, 2}) in the
label set's order; MediaPipe's landmarks are ``[33, 5]`` (x px, y px, z px, visibility 0-1,
presence 0-1) in MediaPipe's order, subset to the label set with :func:`detector_in_set`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from .skeletons import KeypointSet, keypoint_set

# Every threshold the check uses, in one place. Errors are in body heights (pixel distance / body
# height in pixels); a 1.75 m person has 0.01 body heights = 1.75 cm.
MIN_DETECTION_RATE: Final = 0.90  # below: many images show no recognisable person
MAX_MEDIAN_BODY_ERROR: Final = 0.04  # above: labels and MediaPipe disagree beyond the anatomical floor
MAX_MEAN_OFFSET: Final = 0.01  # above: every label is shifted the same way (|mean (dx, dy)|)
MIN_VISIBILITY_AGREEMENT: Final = 0.5  # below: our v = 2 / v = 1 disagree with MediaPipe more often than not
MAX_SWAP_SUSPECT_RATE: Final = 0.20  # above, in non-side views: left and right look exchanged
SWAP_ERROR_RATIO: Final = 0.75  # an image is a swap suspect when the swapped error is below this times the error
SWAP_MIN_GAIN: Final = 0.01  # ... and at least this much lower (body heights)
SWAP_MAX_FIT: Final = 0.05  # ... and the swapped labels fit MediaPipe this well (a failed detection fits nothing)
MEDIAPIPE_VISIBLE_SCORE: Final = 0.5  # MediaPipe's visibility score at and above which it calls a landmark visible
SIDE_VIEW_TOLERANCE_DEG: Final = 30.0  # azimuths this close to 90 or 270 degrees are side views

THRESHOLDS: Final = {
    "min_detection_rate": MIN_DETECTION_RATE,
    "max_median_body_error": MAX_MEDIAN_BODY_ERROR,
    "max_mean_offset": MAX_MEAN_OFFSET,
    "min_visibility_agreement": MIN_VISIBILITY_AGREEMENT,
    "max_swap_suspect_rate": MAX_SWAP_SUSPECT_RATE,
    "swap_error_ratio": SWAP_ERROR_RATIO,
    "swap_min_gain": SWAP_MIN_GAIN,
    "swap_max_fit": SWAP_MAX_FIT,
    "mediapipe_visible_score": MEDIAPIPE_VISIBLE_SCORE,
    "side_view_tolerance_deg": SIDE_VIEW_TOLERANCE_DEG,
}

THRESHOLD_NOTES: Final = {
    "min_detection_rate": "flag when MediaPipe finds a person in fewer images than this",
    "max_median_body_error": "flag when the median body error is above this (body heights)",
    "max_mean_offset": "flag when the mean offset of visible body landmarks is longer than this (body heights)",
    "min_visibility_agreement": "flag when our visibility agrees with MediaPipe's less often than this",
    "max_swap_suspect_rate": "flag when more of the non-side views than this are swap suspects",
    "swap_error_ratio": "a swap suspect's swapped body error is below this times its body error ...",
    "swap_min_gain": "... and lower by at least this (body heights) ...",
    "swap_max_fit": "... and at most this (body heights): the swapped labels really fit MediaPipe",
    "mediapipe_visible_score": "MediaPipe's visibility score from which a landmark counts as visible",
    "side_view_tolerance_deg": "azimuths closer than this to 90 or 270 degrees are side views (degrees)",
}

# MediaPipe-33 indices 0-10 are the face (nose, eyes, ears, mouth); 11-32 the body.
LAST_FACE_LANDMARK: Final = 10
VISIBLE: Final = 2
HIPS: Final = ("left_hip", "right_hip")
VISIBILITY_CELLS: Final = (
    "ours_visible_mediapipe_visible",
    "ours_visible_mediapipe_hidden",
    "ours_hidden_mediapipe_visible",
    "ours_hidden_mediapipe_hidden",
)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def label_set_to_compare(keypoint_sets: Sequence[str]) -> str:
    """``mediapipe33`` when the labels have it (all 33 landmarks compare), else ``coco17``.

    Raises:
        ValueError: the labels have neither set.
    """
    for name in ("mediapipe33", "coco17"):
        if name in keypoint_sets:
            return name
    raise ValueError(f"the labels have no mediapipe33 or coco17 keypoints (found: {', '.join(keypoint_sets) or 'none'})")


def detector_in_set(landmarks33: FloatArray, label_set: str) -> FloatArray:
    """MediaPipe's ``[33, 5]`` landmarks reduced to the ``[K, 5]`` of ``label_set`` (same order as our labels)."""
    return np.asarray(landmarks33, dtype=np.float64)[list(keypoint_set(label_set).mediapipe_indices)]


def face_mask(label_set: str) -> BoolArray:
    """``[K]`` True for face keypoints (MediaPipe indices 0-10: nose, eyes, ears, mouth)."""
    return np.array([index <= LAST_FACE_LANDMARK for index in keypoint_set(label_set).mediapipe_indices])


def _mirror_name(name: str) -> str:
    for this, other in (("left", "right"), ("right", "left")):
        if name.startswith(f"{this}_"):
            return f"{other}_{name[len(this) + 1 :]}"
        if name.endswith(f"_{this}"):
            return f"{name[: -len(this)]}{other}"
    return name


def swap_permutation(definition: KeypointSet) -> tuple[int, ...]:
    """Index of each keypoint's left/right counterpart (itself for centre keypoints such as the nose)."""
    return tuple(definition.names.index(_mirror_name(name)) for name in definition.names)


def body_height_px(label: Mapping[str, Any], label_set: str, height_m: float | None) -> tuple[float, str]:
    """The body height in pixels that errors are divided by, and where it came from.

    ``"height_m"``: ``fy * H / Z`` with ``H`` the character's standing height (metres) and ``Z``
    the mean camera-space depth of the two hips (metres, from the label's ``keypoints_3d``), the
    height a standing person at the hips' depth would have in this image, whatever the pose.
    ``"bbox"``: the label's box height (pixels), for datasets without ``height_m``; it shrinks
    when the character crouches or lies down, so errors of such poses read larger.
    """
    definition = keypoint_set(label_set)
    points_3d = label.get("keypoints_3d", {}).get(label_set)
    if height_m and height_m > 0 and points_3d:
        depth = float(np.mean([points_3d[definition.names.index(hip)][2] for hip in HIPS]))
        focal_y = float(label["camera"]["K"][1][1])
        if depth > 0:
            return focal_y * float(height_m) / depth, "height_m"
    return float(label["bbox"][3]), "bbox"


def _mean_or_none(values: FloatArray) -> float | None:
    return float(np.mean(values)) if values.size else None


@dataclass(frozen=True)
class ImageComparison:
    """One image's labels against MediaPipe's landmarks; errors in body heights, ``None`` when nothing compared.

    ``landmark_errors`` is ``[K]`` with NaN where our keypoint is not visible or nothing was
    detected; ``offset`` / ``offset_px`` are the mean of (ours - MediaPipe) over visible body
    landmarks, ``(dx, dy)`` in body heights / pixels (+x right, +y down); ``visibility`` counts
    the landmarks inside the image (our v >= 1) in the four cells of :data:`VISIBILITY_CELLS`.
    """

    detected: bool
    height_px: float
    landmark_errors: FloatArray
    body_error: float | None = None
    face_error: float | None = None
    swapped_body_error: float | None = None
    swap_suspect: bool = False
    offset: tuple[float, float] | None = None
    offset_px: tuple[float, float] | None = None
    body_offsets: FloatArray = field(default_factory=lambda: np.zeros((0, 2)))
    visibility: tuple[int, int, int, int] = (0, 0, 0, 0)


def compare_image(ours: FloatArray, theirs: FloatArray | None, height_px: float, label_set: str) -> ImageComparison:
    """Compare our ``[K, 3]`` keypoints with MediaPipe's ``[K, 5]`` landmarks (``None``: no person detected).

    Only our visible keypoints (v == 2) count for errors. The swap check re-labels ours with left
    and right exchanged and measures the body error again: when that fits MediaPipe clearly
    better (:data:`SWAP_ERROR_RATIO`, :data:`SWAP_MIN_GAIN`) and fits it well in itself
    (:data:`SWAP_MAX_FIT`) the image is a swap suspect. Without the last condition a detection
    that collapsed one side onto the other would accuse correct labels.
    """
    ours = np.asarray(ours, dtype=np.float64)
    errors = np.full(len(ours), np.nan)
    if theirs is None:
        return ImageComparison(False, height_px, errors)
    theirs = np.asarray(theirs, dtype=np.float64)
    face = face_mask(label_set)
    visible = ours[:, 2] == VISIBLE
    distances = np.linalg.norm(ours[:, :2] - theirs[:, :2], axis=1) / height_px
    errors[visible] = distances[visible]
    body_visible = visible & ~face
    body_error = _mean_or_none(distances[body_visible])
    face_error = _mean_or_none(distances[visible & face])

    swapped = ours[list(swap_permutation(keypoint_set(label_set)))]
    swapped_visible = (swapped[:, 2] == VISIBLE) & ~face
    swapped_distances = np.linalg.norm(swapped[:, :2] - theirs[:, :2], axis=1) / height_px
    swapped_error = _mean_or_none(swapped_distances[swapped_visible])
    suspect = (
        body_error is not None
        and swapped_error is not None
        and swapped_error < SWAP_ERROR_RATIO * body_error
        and body_error - swapped_error >= SWAP_MIN_GAIN
        and swapped_error <= SWAP_MAX_FIT
    )

    body_offsets_px = ours[body_visible, :2] - theirs[body_visible, :2]
    offset_px = tuple(float(value) for value in body_offsets_px.mean(axis=0)) if len(body_offsets_px) else None
    hidden = ours[:, 2] == 1
    theirs_visible = theirs[:, 3] >= MEDIAPIPE_VISIBLE_SCORE
    cells = (
        int(np.sum(visible & theirs_visible)),
        int(np.sum(visible & ~theirs_visible)),
        int(np.sum(hidden & theirs_visible)),
        int(np.sum(hidden & ~theirs_visible)),
    )
    return ImageComparison(
        detected=True,
        height_px=height_px,
        landmark_errors=errors,
        body_error=body_error,
        face_error=face_error,
        swapped_body_error=swapped_error,
        swap_suspect=bool(suspect),
        offset=None if offset_px is None else (offset_px[0] / height_px, offset_px[1] / height_px),
        offset_px=None if offset_px is None else (offset_px[0], offset_px[1]),
        body_offsets=body_offsets_px / height_px,
        visibility=cells,
    )


def is_side_view(azimuth_deg: float) -> bool:
    """True near 90 or 270 degrees, where one side of the body hides the other and MediaPipe confuses left and right."""
    azimuth = azimuth_deg % 360.0
    return min(abs(azimuth - 90.0), abs(azimuth - 270.0)) < SIDE_VIEW_TOLERANCE_DEG


@dataclass(frozen=True)
class ImageQA:
    """An image's identity (as in its label) and its comparison."""

    image: str
    view: str
    azimuth_deg: float
    height_source: str
    comparison: ImageComparison


def _round(value: float | None, digits: int = 5) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def _percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def _distribution(values: Sequence[float]) -> dict[str, Any]:
    return {"median": _round(_percentile(values, 50)), "p90": _round(_percentile(values, 90)), "images": len(values)}


def _views(records: Sequence[ImageQA]) -> dict[str, dict[str, Any]]:
    views: dict[str, dict[str, Any]] = {}
    for record in records:
        entry = views.setdefault(
            record.view,
            {"images": 0, "detected": 0, "side": is_side_view(record.azimuth_deg), "swap_suspects": 0, "_errors": []},
        )
        entry["images"] += 1
        comparison = record.comparison
        if comparison.detected:
            entry["detected"] += 1
            entry["swap_suspects"] += int(comparison.swap_suspect)
            if comparison.body_error is not None:
                entry["_errors"].append(comparison.body_error)
    for entry in views.values():
        errors = entry.pop("_errors")
        entry["detection_rate"] = _round(entry["detected"] / entry["images"], 4)
        entry["median_body_error"] = _round(_percentile(errors, 50))
    return views


def summarize(records: Sequence[ImageQA], label_set: str) -> dict[str, Any]:
    """Dataset-level numbers (JSON-ready) from every image's comparison, with :func:`flags` under ``flags``.

    Offsets pool every visible body landmark of every detected image; ``offset.std`` is the
    spread of the per-image mean offsets (body heights).
    """
    definition = keypoint_set(label_set)
    detected = [record for record in records if record.comparison.detected]
    body = [r.comparison.body_error for r in detected if r.comparison.body_error is not None]
    face = [r.comparison.face_error for r in detected if r.comparison.face_error is not None]
    landmark_errors = np.array([r.comparison.landmark_errors for r in detected]).reshape(len(detected), len(definition.names))
    landmark_medians = {}
    for index, name in enumerate(definition.names):
        column = landmark_errors[:, index]
        column = column[np.isfinite(column)]
        landmark_medians[name] = _round(float(np.median(column))) if column.size else None

    with_offsets = [r.comparison for r in detected if len(r.comparison.body_offsets)]
    pooled = [comparison.body_offsets for comparison in with_offsets]
    pooled_px = [comparison.body_offsets * comparison.height_px for comparison in with_offsets]
    per_image = np.array([r.comparison.offset for r in detected if r.comparison.offset is not None]).reshape(-1, 2)
    mean = np.concatenate(pooled).mean(axis=0) if pooled else None
    mean_px = np.concatenate(pooled_px).mean(axis=0) if pooled_px else None

    cells = np.sum([r.comparison.visibility for r in detected], axis=0) if detected else np.zeros(4, dtype=int)
    compared = int(np.sum(cells))
    non_side = [r for r in detected if not is_side_view(r.azimuth_deg)]
    non_side_suspects = sum(r.comparison.swap_suspect for r in non_side)
    sources: dict[str, int] = {}
    for record in records:
        sources[record.height_source] = sources.get(record.height_source, 0) + 1

    summary: dict[str, Any] = {
        "label_set": label_set,
        "images": len(records),
        "detected": len(detected),
        "detection_rate": _round(len(detected) / len(records), 4) if records else None,
        "views": _views(records),
        "body_error": _distribution(body),
        "face_error": _distribution(face),
        "landmark_median_error": landmark_medians,
        "swap": {
            "suspects": sum(r.comparison.swap_suspect for r in detected),
            "non_side_images": len(non_side),
            "non_side_suspects": int(non_side_suspects),
            "non_side_rate": _round(non_side_suspects / len(non_side), 4) if non_side else None,
        },
        "visibility": {
            "landmarks": compared,
            "agreement": _round((cells[0] + cells[3]) / compared, 4) if compared else None,
            "counts": dict(zip(VISIBILITY_CELLS, (int(value) for value in cells), strict=True)),
        },
        "offset": {
            "mean": None if mean is None else [_round(value) for value in mean],
            "mean_px": None if mean_px is None else [_round(value, 3) for value in mean_px],
            "norm": None if mean is None else _round(float(np.linalg.norm(mean))),
            "std": [_round(value) for value in per_image.std(axis=0)] if len(per_image) else None,
        },
        "height_source": sources,
        "thresholds": dict(THRESHOLDS),
    }
    summary["flags"] = flags(summary)
    return summary


def flags(summary: Mapping[str, Any]) -> list[str]:
    """The problems a summary shows, one sentence each with the threshold that raised it (empty: none)."""
    found = []
    rate = summary["detection_rate"]
    if rate is not None and rate < MIN_DETECTION_RATE:
        found.append(
            f"detection rate {rate:.0%} < {MIN_DETECTION_RATE:.0%}: MediaPipe finds no person in "
            f"{summary['images'] - summary['detected']} of {summary['images']} images"
        )
    median = summary["body_error"]["median"]
    if median is not None and median > MAX_MEDIAN_BODY_ERROR:
        found.append(f"median body error {median:.3f} > {MAX_MEDIAN_BODY_ERROR} body heights: labels and MediaPipe disagree")
    offset = summary["offset"]
    if offset["norm"] is not None and offset["norm"] > MAX_MEAN_OFFSET:
        dx, dy = offset["mean"]
        px, py = offset["mean_px"]
        found.append(
            f"systematic offset |mean| {offset['norm']:.3f} > {MAX_MEAN_OFFSET} body heights: labels sit at "
            f"dx {dx:+.3f}, dy {dy:+.3f} ({px:+.1f} px, {py:+.1f} px) from MediaPipe's on average"
        )
    agreement = summary["visibility"]["agreement"]
    if agreement is not None and agreement < MIN_VISIBILITY_AGREEMENT:
        found.append(
            f"visibility agreement {agreement:.0%} < {MIN_VISIBILITY_AGREEMENT:.0%}: our v = 2 / v = 1 "
            "contradict MediaPipe's visibility scores"
        )
    swap = summary["swap"]
    if swap["non_side_rate"] is not None and swap["non_side_rate"] > MAX_SWAP_SUSPECT_RATE:
        found.append(
            f"left/right swap suspected in {swap['non_side_suspects']} of {swap['non_side_images']} non-side views "
            f"({swap['non_side_rate']:.0%} > {MAX_SWAP_SUSPECT_RATE:.0%})"
        )
    return found


def _number(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def summary_lines(summary: Mapping[str, Any]) -> list[str]:
    """The short human summary both front ends show (CLI output, Blender report)."""
    swap = summary["swap"]
    visibility = summary["visibility"]
    lines = [
        f"MediaPipe detected a person in {summary['detected']}/{summary['images']} images "
        f"({_percent(summary['detection_rate'])})",
        f"median error (body heights): body {_number(summary['body_error']['median'])}, "
        f"face {_number(summary['face_error']['median'])}; 90th percentile body {_number(summary['body_error']['p90'])}",
        f"left/right check: {swap['suspects']} swap suspects ({swap['non_side_suspects']} of {swap['non_side_images']} "
        "non-side views)",
        f"visibility agreement: {_percent(visibility['agreement'])} of {visibility['landmarks']} landmarks",
    ]
    offset = summary["offset"]
    if offset["mean"] is not None:
        lines.append(
            f"mean offset ours - MediaPipe: dx {offset['mean'][0]:+.4f}, dy {offset['mean'][1]:+.4f} body heights "
            f"({offset['mean_px'][0]:+.1f} px, {offset['mean_px'][1]:+.1f} px)"
        )
    lines += [f"FLAG: {flag}" for flag in summary["flags"]] or ["no flags"]
    return lines
