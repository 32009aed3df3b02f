"""COCO keypoints assembly from Pose Factory's per-image label records.

The result loads with ``pycocotools.coco.COCO``: one ``person`` category with the COCO-17
names and 1-based skeleton, one image entry and one annotation per label record. Keypoints
outside the image are written as ``0, 0, 0`` (COCO's "not labelled").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .skeletons import COCO17_NAMES, COCO17_SKELETON

PERSON_CATEGORY_ID = 1


def coco_category() -> dict[str, Any]:
    """The single ``person`` category with keypoint names and skeleton (1-based pairs)."""
    return {
        "id": PERSON_CATEGORY_ID,
        "name": "person",
        "supercategory": "person",
        "keypoints": list(COCO17_NAMES),
        "skeleton": [list(pair) for pair in COCO17_SKELETON],
    }


def _flat_keypoints(keypoints: Sequence[Sequence[float]]) -> tuple[list[float], int]:
    flat: list[float] = []
    labelled = 0
    for x, y, visibility in keypoints:
        if int(visibility) > 0:
            flat.extend([float(x), float(y), int(visibility)])
            labelled += 1
        else:
            flat.extend([0.0, 0.0, 0])
    return flat, labelled


def coco_keypoints(labels: Sequence[dict[str, Any]], description: str = "Pose Factory dataset") -> dict[str, Any]:
    """A COCO keypoints dataset from label records (each needs ``keypoints["coco17"]``).

    Image ids and annotation ids are 1-based in the order of ``labels``; ``file_name`` is
    the record's ``image`` (relative to the dataset folder). With a person mask (the ``mask``
    pass) the annotation carries its ``segmentation`` (uncompressed RLE) and ``area`` (mask
    pixels), as COCO defines them; without one, ``area`` is the bbox area.
    """
    images = []
    annotations = []
    for index, label in enumerate(labels, start=1):
        if "coco17" not in label["keypoints"]:
            raise ValueError(f"{label['image']}: no coco17 keypoints (render with --labels including coco17)")
        images.append({"id": index, "file_name": label["image"], "width": label["width"], "height": label["height"]})
        flat, labelled = _flat_keypoints(label["keypoints"]["coco17"])
        x, y, w, h = (float(value) for value in label["bbox"])
        annotation: dict[str, Any] = {
            "id": index,
            "image_id": index,
            "category_id": PERSON_CATEGORY_ID,
            "keypoints": flat,
            "num_keypoints": labelled,
            "bbox": [x, y, w, h],
            "area": float(label["mask_area"]) if "mask_area" in label else w * h,
            "iscrowd": 0,
        }
        if "segmentation" in label:
            annotation["segmentation"] = label["segmentation"]
        annotations.append(annotation)
    return {
        "info": {"description": description},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [coco_category()],
    }
