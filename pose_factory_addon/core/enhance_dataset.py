"""The enhanced dataset: labels copied onto the enhanced images, ``dataset.json``, ``coco_keypoints.json``, and the QA gate.

The gate is the label QA of ``pose-factory qa`` (:func:`~.qa_check.check_dataset`, MediaPipe in
its own interpreter) run on every enhanced image: an image whose body error against our labels
is above ``max_error`` body heights, or in which MediaPipe finds no person, leaves ``images``
and the COCO file and is listed under ``rejected`` with its numbers. Its files stay on disk
(they were paid for) and ``qa.json``/``qa.html`` cover every enhanced image, the rejected ones too.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .coco import coco_keypoints
from .dataset import COCO_FILE, DATASET_FILE
from .enhance_journal import write_atomically
from .enhance_options import EnhanceOptions
from .errors import UsageError
from .qa_check import QA_JSON, check_dataset
from .security import resolve_under

_NOT_COPIED: Final = frozenset({"images", "failures", "counts", "timings", "rejected", "enhancement", "workers"})
_QA_NUMBERS: Final = ("detected", "body_error", "face_error", "swap_suspect")


@dataclass(frozen=True)
class EnhancedImage:
    """One finished answer: its image and label (relative to the output folder), the rendered image it came
    from (relative to the source dataset) and that file's SHA-256, the variation (1-based), the seed sent,
    and the size mapping (:meth:`~.enhance_sizes.SizeMapping.record`)."""

    image: str
    label: str
    source_image: str
    source_sha256: str
    variation: int
    seed: int
    size: Mapping[str, Any]


@dataclass(frozen=True)
class GateResult:
    """What the gate kept (image paths) and rejected (records as in ``dataset.json``), and where the QA report is."""

    kept: tuple[str, ...]
    rejected: tuple[dict[str, Any], ...]
    qa_json: Path | None
    qa_html: Path | None


def enhanced_label(source: Mapping[str, Any], image: EnhancedImage, options: EnhanceOptions) -> dict[str, Any]:
    """``source``'s label for the enhanced image: every coordinate as rendered (same size and framing), the new
    ``image`` path, and an ``enhanced`` block saying how it was made and from which file."""
    label = copy.deepcopy(dict(source))
    label["image"] = image.image
    label["enhanced"] = {
        "mode": options.mode,
        "strength": options.control_strength,
        "prompt": options.prompt,
        "negative_prompt": options.negative_prompt,
        "seed": image.seed,
        "variation": image.variation,
        "source_image": image.source_image,
        "source_sha256": image.source_sha256,
        "size": dict(image.size),
    }
    return label


def rejection_reason(entry: Mapping[str, Any], max_error: float) -> str | None:
    """Why the gate drops an image (from its ``qa.json`` entry), or ``None`` when it is kept."""
    if not entry.get("detected"):
        return "MediaPipe found no person"
    error = entry.get("body_error")
    if error is None:
        return "no visible body keypoint to compare"
    if error > max_error:
        return f"body error {error:.3f} is above {max_error:g} body heights"
    return None


def gate(entries: Sequence[Mapping[str, Any]], max_error: float) -> tuple[list[str], list[dict[str, Any]]]:
    """Split ``qa.json`` image entries into kept image paths and rejected records (image, label, numbers, reason)."""
    kept: list[str] = []
    rejected: list[dict[str, Any]] = []
    for entry in entries:
        reason = rejection_reason(entry, max_error)
        if reason is None:
            kept.append(str(entry["image"]))
        else:
            numbers = {key: entry.get(key) for key in _QA_NUMBERS}
            rejected.append({"image": entry["image"], "label": entry["label"], **numbers, "reason": reason})
    return kept, rejected


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=1) + "\n").encode("utf-8")


def _summary(
    source: Mapping[str, Any],
    images: Sequence[EnhancedImage],
    failures: Sequence[Mapping[str, Any]],
    enhancement: Mapping[str, Any],
) -> dict[str, Any]:
    """``dataset.json`` listing every enhanced image (before the gate); render facts copied from ``source``."""
    entries = {entry["image"]: entry for entry in source["images"]}
    summary = {key: copy.deepcopy(value) for key, value in source.items() if key not in _NOT_COPIED}
    summary["enhancement"] = dict(enhancement)
    summary["images"] = []
    for image in images:
        entry = {key: value for key, value in entries[image.source_image].items() if key != "qa"}
        summary["images"].append({**entry, "image": image.image, "label": image.label, "source_image": image.source_image})
    summary["rejected"] = []
    summary["failures"] = [*copy.deepcopy(source.get("failures", [])), *map(dict, failures)]
    return summary


def _counts(summary: Mapping[str, Any], source: Mapping[str, Any]) -> dict[str, Any]:
    counts = dict(source.get("counts", {}))
    counts.update(images=len(summary["images"]), rejected=len(summary["rejected"]), failures=len(summary["failures"]))
    return counts


def write_enhanced_dataset(
    out_dir: Path,
    source: Mapping[str, Any],
    source_labels: Mapping[str, Mapping[str, Any]],
    images: Sequence[EnhancedImage],
    failures: Sequence[Mapping[str, Any]],
    enhancement: Mapping[str, Any],
    options: EnhanceOptions,
    progress: Callable[[int, int], None] | None = None,
    python: str | None = None,
) -> GateResult:
    """Write the labels and ``dataset.json``, run the QA gate, and write the final ``dataset.json`` and COCO file.

    ``source`` is the rendered dataset's ``dataset.json``; ``source_labels`` its labels by image path;
    ``failures`` the images Stability would not enhance (``{"image", "stage", "error"}``);
    ``enhancement`` the run's record (``dataset.json``'s ``enhancement``). ``progress`` and ``python``
    go to the label check.

    Raises:
        QAError: MediaPipe cannot run (the enhanced images and labels are written; run again for the gate).
    """
    labels = {}
    for image in images:
        label = enhanced_label(source_labels[image.source_image], image, options)
        labels[image.image] = label
        write_atomically(resolve_under(out_dir, image.label), _json_bytes(label))
    summary = _summary(source, images, failures, enhancement)
    summary["counts"] = _counts(summary, source)
    path = out_dir / DATASET_FILE
    write_atomically(path, _json_bytes(summary))
    qa_json = qa_html = None
    if images:
        try:
            result = check_dataset(out_dir, progress=progress, python=python)
        except UsageError as error:  # the folder was just written, so this is our bug, not the user's input
            raise RuntimeError(f"the enhanced dataset in {out_dir} cannot be checked: {error}") from error
        qa_json, qa_html = result.json_path, result.html_path
        entries = json.loads((out_dir / QA_JSON).read_text(encoding="utf-8"))["images"]
        summary = json.loads(path.read_text(encoding="utf-8"))  # check_dataset added a qa block per image
        kept, rejected = gate(entries, options.max_error)
        keep = set(kept)
        summary["images"] = [entry for entry in summary["images"] if entry["image"] in keep]
        summary["rejected"] = rejected
        summary["counts"] = _counts(summary, source)
    else:
        kept, rejected = [], []
    kept_labels = [labels[image] for image in kept]
    if any("coco17" in label.get("keypoints", {}) for label in source_labels.values()):
        name = source.get("spec", {}).get("output_name", "dataset")
        coco = coco_keypoints(kept_labels, description=f"Pose Factory {name}, enhanced ({options.mode})")
        write_atomically(out_dir / COCO_FILE, _json_bytes(coco))
    write_atomically(path, _json_bytes(summary))
    return GateResult(tuple(kept), tuple(rejected), qa_json, qa_html)
