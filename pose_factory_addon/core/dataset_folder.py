"""What a render's output folder already holds, and how a new render treats it: refuse, replace or resume.

Rendering into a folder that holds a dataset used to mix old and new images. Now a render
refuses such a folder unless told ``overwrite`` (remove the previous dataset's files, as its
``dataset.json`` lists them, and nothing else) or ``resume`` (keep every finished image of the
same spec and render only the missing ones, which is what makes a ten-hour render safe to
interrupt). A render in progress keeps a small state file with its spec, so even a render that
was killed before writing ``dataset.json`` can be resumed.

An image is finished when its label JSON exists: the pipeline writes the PNG (and its passes)
first and the label last, atomically, so a label never describes a half-written image.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from .dataset import COCO_FILE, DATASET_FILE, spec_dict, write_json
from .errors import UsageError
from .manifest import RenderParams
from .output_paths import refuse_file_in_the_way, writable_folder
from .security import resolve_under

STATE_FILE: Final = ".pose-factory-render.json"
MODES: Final = ("new", "overwrite", "resume")
# Files a dataset folder gets besides its images and labels (the label check, the contact sheet).
_DATASET_EXTRAS: Final = (COCO_FILE, "qa.json", "qa.html", "contact_sheet.png")
_NOT_LABELS: Final = frozenset({DATASET_FILE, COCO_FILE, "qa.json", STATE_FILE})


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def previous_spec(out_dir: Path) -> dict[str, Any] | None:
    """The spec of the dataset (finished, interrupted or killed) in ``out_dir``, or ``None`` when it holds none."""
    for name in (DATASET_FILE, STATE_FILE):
        data = _read(out_dir / name)
        if data is not None and isinstance(data.get("spec"), dict):
            return dict(data["spec"])
    return None


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return [key for key in sorted(set(old) | set(new)) if old.get(key) != new.get(key)]


def prepare_output(out_dir: Path, params: RenderParams, mode: str) -> dict[str, dict[str, Any]]:
    """Get ``out_dir`` ready for rendering ``params``; returns the finished images to keep (``resume``), by image path.

    ``new`` refuses a folder that holds a dataset, ``overwrite`` removes it first, ``resume``
    keeps its finished images when it was rendered with the same spec. Writes the state file.

    Raises:
        UsageError: the folder holds a dataset (``new``), holds none (``resume``), or holds one of
            another spec (``resume``); or ``out_dir`` is a file or a folder that cannot be written.
    """
    refuse_file_in_the_way(out_dir, "--out")
    spec = spec_dict(params)
    old = previous_spec(out_dir)
    kept: dict[str, dict[str, Any]] = {}
    if mode == "new" and old is not None:
        raise UsageError(
            f"{out_dir} already holds a dataset: pass --resume to finish it, --overwrite to replace it, or choose another --out"
        )
    if mode == "resume":
        if old is None:
            raise UsageError(f"--resume: {out_dir} holds no dataset to resume")
        changed = _differences(old, spec)
        if changed:
            raise UsageError(
                f"--resume: {out_dir} was rendered with other options ({', '.join(changed)}); "
                "render it again with the same options, or pass --overwrite"
            )
        kept = finished_images(out_dir)
    if mode == "overwrite" and old is not None:
        remove_dataset(out_dir)
    writable_folder(out_dir, "--out")
    write_json(out_dir / STATE_FILE, {"spec": spec})
    return kept


def finished_images(out_dir: Path) -> dict[str, dict[str, Any]]:
    """``{image path: {"label": label record, "timings": image entry or {}}}`` of every image in ``out_dir`` whose
    label and PNG (and pass files) exist."""
    timings = {str(entry.get("image")): entry for entry in (_read(out_dir / DATASET_FILE) or {}).get("images", [])}
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(out_dir.rglob("*.json")):
        if path.name in _NOT_LABELS or path.name.startswith("."):
            continue
        label = _read(path)
        if label is None or not isinstance(label.get("image"), str) or "keypoints" not in label:
            continue
        files = [label["image"], *dict(label.get("passes", {})).values()]
        try:
            if all(resolve_under(out_dir, *str(file).split("/")).is_file() for file in files):
                found[label["image"]] = {"label": label, "timings": timings.get(label["image"], {})}
        except ValueError:
            continue  # a label pointing outside the folder is not ours to keep
    return found


def _dataset_files(out_dir: Path, summary: dict[str, Any]) -> Iterable[Path]:
    for image in summary.get("images", []):
        for key in ("image", "label"):
            if isinstance(image.get(key), str):
                yield resolve_under(out_dir, *image[key].split("/"))
        label = _read(resolve_under(out_dir, *str(image.get("label", "")).split("/"))) if image.get("label") else None
        for file in dict((label or {}).get("passes", {})).values():
            yield resolve_under(out_dir, *str(file).split("/"))
        if isinstance(image.get("image"), str):
            yield resolve_under(out_dir, "overlays", *image["image"].split("/"))


def remove_dataset(out_dir: Path) -> int:
    """Remove the previous dataset's files (as its ``dataset.json`` lists them, plus the files Pose Factory writes
    beside them: COCO, label check, contact sheet) and the folders that leaves empty; returns the files removed.

    A dataset killed before writing ``dataset.json`` lists nothing: its finished images are found by their labels.
    """
    summary = _read(out_dir / DATASET_FILE) or {"images": [{"image": image, "label": None} for image in finished_images(out_dir)]}
    for image in summary.get("images", []):
        if image.get("label") is None:
            image["label"] = str(Path(image["image"]).with_suffix(".json")).replace("\\", "/")
    removed = 0
    folders: set[Path] = set()
    for path in [*_dataset_files(out_dir, summary), *(out_dir / name for name in (*_DATASET_EXTRAS, DATASET_FILE, STATE_FILE))]:
        if path.is_file():
            path.unlink()
            removed += 1
            folders.update(parent for parent in path.parents if out_dir in parent.parents)
    for folder in sorted(folders, key=lambda item: len(item.parts), reverse=True):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
    return removed


def finish_output(out_dir: Path) -> None:
    """The render ended with its dataset files written: the state file is no longer needed."""
    (out_dir / STATE_FILE).unlink(missing_ok=True)
