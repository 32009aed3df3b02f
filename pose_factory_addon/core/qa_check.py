"""Check a rendered dataset's labels against MediaPipe: the one entry point of the CLI verb and the Blender operator.

Reads ``dataset.json`` and the labels it lists, runs the detector once over every image, writes
``qa.json`` (per image and a summary) and ``qa.html`` into the output folder, and adds a small
``qa`` block to every image of ``dataset.json`` so training code can skip outliers.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np

from .dataset import DATASET_FILE
from .errors import QAError, UsageError
from .qa import ImageQA, body_height_px, compare_image, detector_in_set, label_set_to_compare, summarize
from .qa_detector import DetectorRun, Progress, run_detector
from .security import resolve_under
from .skeletons import keypoint_set

QA_JSON: Final = "qa.json"
QA_HTML: Final = "qa.html"
NEW_FILE_MODE: Final = 0o644


@dataclass(frozen=True)
class CheckResult:
    """What a check produced: the summary (as in ``qa.json``), where the two reports are, and the detector's speed."""

    summary: dict[str, Any]
    json_path: Path
    html_path: Path
    mediapipe_version: str
    seconds_per_image: float


def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{path}: {what} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UsageError(f"{path}: cannot read {what} ({error})") from None


def load_dataset(dataset_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``dataset.json`` and the label record of each image it lists, in its order.

    Raises:
        UsageError: no ``dataset.json``, no images, or a label or image file missing or unreadable.
    """
    summary_path = dataset_dir / DATASET_FILE
    if not summary_path.is_file():
        raise UsageError(f"{dataset_dir}: no {DATASET_FILE} (render a dataset first with `pose-factory render`)")
    summary = _read_json(summary_path, DATASET_FILE)
    if not isinstance(summary, dict) or not summary.get("images"):
        raise UsageError(f"{dataset_dir}: the dataset has no images")
    labels = []
    for image in summary["images"]:
        try:
            label_path = resolve_under(dataset_dir, image["label"])
            image_path = resolve_under(dataset_dir, image["image"])
        except (KeyError, TypeError, ValueError) as error:
            raise UsageError(f"{summary_path}: an image entry is malformed ({error})") from None
        if not image_path.is_file():
            raise UsageError(f"{image_path}: the image listed in {DATASET_FILE} is missing")
        labels.append(_read_json(label_path, "the label file"))
    return summary, labels


def _heights(summary: Mapping[str, Any]) -> dict[str, float]:
    """Standing height in metres per character name, for the characters whose record has ``height_m``."""
    return {
        str(record["name"]): float(record["height_m"])
        for record in summary.get("characters", [])
        if isinstance(record, dict) and record.get("height_m")
    }


def compare_dataset(
    labels: Sequence[Mapping[str, Any]], run: DetectorRun, heights: Mapping[str, float]
) -> tuple[str, list[ImageQA]]:
    """The label set compared on and one :class:`ImageQA` per label (same order as ``run.detections``)."""
    label_set = label_set_to_compare(list(labels[0]["keypoints"]))
    records = []
    for label, detection in zip(labels, run.detections, strict=True):
        if label_set not in label["keypoints"]:
            raise UsageError(f"{label['image']}: no {label_set} keypoints, unlike the first image")
        height_px, source = body_height_px(label, label_set, heights.get(label["character"]))
        theirs = detector_in_set(detection.landmarks, label_set) if detection.landmarks is not None else None
        comparison = compare_image(np.asarray(label["keypoints"][label_set], dtype=np.float64), theirs, height_px, label_set)
        records.append(ImageQA(label["image"], label["view"], float(label.get("azimuth_deg", 0.0)), source, comparison))
    return label_set, records


def _rounded(value: float | None, digits: int = 5) -> float | None:
    return None if value is None else round(value, digits)


def image_entry(label: Mapping[str, Any], image: Mapping[str, Any], record: ImageQA, landmarks: Any) -> dict[str, Any]:
    """One image of ``qa.json``: identity, errors (body heights), offsets, and MediaPipe's ``[33, 5]`` landmarks."""
    comparison = record.comparison
    return {
        "image": image["image"],
        "label": image["label"],
        "view": record.view,
        "azimuth_deg": record.azimuth_deg,
        "frame": label.get("frame"),
        "detected": comparison.detected,
        "body_error": _rounded(comparison.body_error),
        "face_error": _rounded(comparison.face_error),
        "swapped_body_error": _rounded(comparison.swapped_body_error),
        "swap_suspect": comparison.swap_suspect,
        "offset": None if comparison.offset is None else [_rounded(value) for value in comparison.offset],
        "offset_px": None if comparison.offset_px is None else [_rounded(value, 3) for value in comparison.offset_px],
        "height_px": round(comparison.height_px, 2),
        "height_source": record.height_source,
        "landmark_errors": [None if not np.isfinite(value) else round(float(value), 5) for value in comparison.landmark_errors],
        "mediapipe": None if landmarks is None else landmarks.tolist(),
    }


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, so readers never see half a file.

    The file keeps its permissions (a new one gets rw-r--r--; ``mkstemp`` alone would make it private).
    """
    mode = path.stat().st_mode & 0o777 if path.exists() else NEW_FILE_MODE
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def add_qa_blocks(dataset_dir: Path, entries: Sequence[Mapping[str, Any]]) -> None:
    """Set ``images[i]["qa"]`` in ``dataset.json`` (detected, body_error, face_error, swap_suspect), nothing else.

    The file is read again right before writing, so fields written meanwhile are kept.
    """
    path = dataset_dir / DATASET_FILE
    summary = _read_json(path, DATASET_FILE)
    by_image = {entry["image"]: entry for entry in entries}
    for image in summary["images"]:
        entry = by_image.get(image.get("image"))
        if entry is not None:
            image["qa"] = {key: entry[key] for key in ("detected", "body_error", "face_error", "swap_suspect")}
    try:
        _write_atomically(path, json.dumps(summary, indent=1) + "\n")
    except OSError as error:
        raise QAError(f"cannot update {path}: {error.strerror or error}") from None


def check_dataset(
    dataset_dir: Path,
    out_dir: Path | None = None,
    progress: Progress | None = None,
    python: str | None = None,
) -> CheckResult:
    """Run MediaPipe over ``dataset_dir`` and compare; write ``qa.json`` and ``qa.html`` into ``out_dir`` (default: the dataset).

    ``progress`` gets ``(images done, total)`` from the detector and may raise to cancel;
    ``python`` overrides :func:`~.qa_detector.find_qa_python`.

    Raises:
        UsageError: the folder is not a readable dataset.
        QAError: MediaPipe cannot run, an image is unreadable, or a report cannot be written.
    """
    from .qa_report import render_report

    dataset_dir = dataset_dir.resolve()
    out_dir = (out_dir or dataset_dir).resolve()
    dataset, labels = load_dataset(dataset_dir)
    try:
        label_set_to_compare(list(labels[0].get("keypoints", {})))
    except ValueError as error:
        raise UsageError(f"{dataset_dir}: {error}") from None
    images = [resolve_under(dataset_dir, image["image"]) for image in dataset["images"]]
    run = run_detector(images, python=python, progress=progress)
    label_set, records = compare_dataset(labels, run, _heights(dataset))
    summary = summarize(records, label_set)
    entries = [
        image_entry(label, image, record, detection.landmarks)
        for label, image, record, detection in zip(labels, dataset["images"], records, run.detections, strict=True)
    ]
    seconds_per_image = round(run.seconds / len(images), 4)
    qa: dict[str, Any] = {
        "dataset": str(dataset_dir),
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "mediapipe_version": run.mediapipe_version,
        "seconds_per_image": seconds_per_image,
        "mediapipe_indices": list(keypoint_set(label_set).mediapipe_indices),
        "summary": summary,
        "images": entries,
    }
    json_path, html_path = out_dir / QA_JSON, out_dir / QA_HTML
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_atomically(json_path, json.dumps(qa, indent=1) + "\n")
        _write_atomically(html_path, render_report(qa, dataset_dir))
    except OSError as error:
        raise QAError(f"cannot write the report into {out_dir}: {error.strerror or error}") from None
    add_qa_blocks(dataset_dir, entries)
    return CheckResult(summary, json_path, html_path, run.mediapipe_version, seconds_per_image)
