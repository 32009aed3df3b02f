"""``dataset.json``: what was asked, with which software, how long each image took, and what failed.

Built by the render pipeline and merged here when several worker processes rendered parts of
one dataset (``pose-factory render --workers N``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .coco import coco_keypoints
from .manifest import RenderParams
from .presets import RenderPreset
from .randomize import summarise_scenes
from .security import resolve_under

DATASET_FILE = "dataset.json"
COCO_FILE = "coco_keypoints.json"
_TIMING_KEYS = ("import_s", "framing_s", "render_s", "label_s")


def spec_dict(params: RenderParams) -> dict[str, Any]:
    """``params`` as JSON-ready data (tuples become lists)."""
    data: dict[str, Any] = json.loads(json.dumps(asdict(params)))
    return data


def new_summary(params: RenderParams, preset: RenderPreset, versions: dict[str, str]) -> dict[str, Any]:
    """An empty summary; the pipeline appends to ``characters``, ``images`` and ``failures``."""
    return {
        "spec": spec_dict(params),
        "versions": dict(versions),
        "preset": asdict(preset),
        "characters": [],
        "images": [],
        "failures": [],
    }


def finish_summary(summary: dict[str, Any], wall_s: float) -> dict[str, Any]:
    """Add ``counts`` and ``timings`` (totals over characters and images, seconds) to ``summary``.

    With motions there is one character record per character and motion: ``characters`` counts the
    characters, ``animations`` the records.
    """
    images = summary["images"]
    characters = summary["characters"]
    timings = {key: 0.0 for key in _TIMING_KEYS}
    for character in characters:
        timings["import_s"] += float(character.get("import_s", 0.0))
        timings["framing_s"] += float(character.get("framing_s", 0.0))
    for image in images:
        timings["render_s"] += float(image.get("render_s", 0.0))
        timings["label_s"] += float(image.get("label_s", 0.0))
    timings = {key: round(value, 3) for key, value in timings.items()}
    timings["wall_s"] = round(wall_s, 3)
    timings["per_image_s"] = round(wall_s / len(images), 4) if images else 0.0
    summary["counts"] = {
        "images": len(images),
        "characters": len({record["name"] for record in characters}),
        "failures": len(summary["failures"]),
    }
    if any("motion" in record for record in characters):
        summary["counts"]["animations"] = len(characters)  # one record per character and motion
    summary["timings"] = timings
    return summary


ORDER_KEY = "_order"  # an image's (frame index, view index) while worker parts are merged


def drop_order(summary: dict[str, Any]) -> None:
    """Remove the merge-only ordering field from every image entry."""
    for image in summary["images"]:
        image.pop(ORDER_KEY, None)


def merge_summaries(parts: Sequence[dict[str, Any]], wall_s: float) -> dict[str, Any]:
    """One summary from the summaries of workers that rendered shares of one spec: disjoint characters, or
    disjoint frames of the same character (then its record is kept once and its images are put back in
    frame and view order, as one process would list them).

    The merged ``spec`` lists every character once, in part order.
    """
    if not parts:
        raise ValueError("nothing to merge")
    merged: dict[str, Any] = {
        "spec": json.loads(json.dumps(parts[0]["spec"])),
        "versions": parts[0]["versions"],
        "preset": parts[0]["preset"],
        "characters": [],
        "images": [],
        "failures": [],
    }
    merged["spec"]["characters"] = []
    records: dict[tuple[str, str], dict[str, Any]] = {}
    images: dict[str, list[dict[str, Any]]] = {}
    for part in parts:
        for ref in part["spec"]["characters"]:
            if ref not in merged["spec"]["characters"]:
                merged["spec"]["characters"].append(ref)
        for record in part["characters"]:
            key = (record["name"], str(record.get("motion", "")))
            if key in records:  # another share of the same animation: its set-up time adds up
                for timing in ("import_s", "framing_s"):
                    records[key][timing] = round(records[key].get(timing, 0.0) + record.get(timing, 0.0), 4)
            else:
                records[key] = dict(record)
        for image in part["images"]:
            images.setdefault(image["image"].rsplit("/", 1)[0], []).append(image)
        merged["failures"].extend(failure for failure in part["failures"] if failure not in merged["failures"])
    merged["characters"] = list(records.values())
    for folder in images.values():
        merged["images"].extend(sorted(folder, key=lambda image: image.get(ORDER_KEY, [0, 0])))
    drop_order(merged)
    merged["workers"] = len(parts)
    return finish_summary(merged, wall_s)


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented UTF-8 JSON, atomically: a reader (or a resumed render) sees the old file or the
    whole new one, never half of it."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, path)


def write_dataset_files(out_dir: Path, summary: dict[str, Any], labels: Sequence[dict[str, Any]]) -> None:
    """Write ``dataset.json`` (with a ``scene`` summary of randomized labels) and, when the labels include
    COCO-17, ``coco_keypoints.json`` into ``out_dir``."""
    scenes = summarise_scenes([label["scene"] for label in labels if "scene" in label])
    if scenes is not None:
        summary["scene"] = scenes
    if labels and "coco17" in labels[0]["keypoints"]:
        write_json(out_dir / COCO_FILE, coco_keypoints(labels, description=f"Pose Factory {summary['spec']['output_name']}"))
    write_json(out_dir / DATASET_FILE, summary)


def read_labels(out_dir: Path, summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The per-image label records a summary lists (``images[*].label``, relative to ``out_dir``)."""
    return [json.loads(resolve_under(out_dir, image["label"]).read_text(encoding="utf-8")) for image in summary["images"]]
