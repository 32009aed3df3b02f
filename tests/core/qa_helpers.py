"""A small synthetic dataset as ``pose-factory render`` lays it out, for the label-check tests without Blender."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from pose_factory_addon.core.skeletons import keypoint_set

FAKE_RUNNER = Path(__file__).with_name("qa_fake_runner.py")
SIZE = 96
VIEWS = (("front", 0.0), ("right", 90.0), ("back", 180.0))


def _keypoints(view_index: int) -> list[list[float]]:
    """33 ``[x, y, v]``: a column of points 80 px tall, left side at +x, the last landmark occluded."""
    points = []
    for index in range(33):
        side = 0 if index == 0 else (1 if index % 2 else -1)
        points.append([48.0 + side * (6 + index % 5) + view_index, 8.0 + 2.4 * index, 1 if index == 32 else 2])
    return points


def make_dataset(root: Path, label_sets: tuple[str, ...] = ("mediapipe33", "coco17"), height_m: float | None = 1.75) -> Path:
    """A dataset folder as ``pose-factory render`` writes it: one character ``c``, three views, 96x96 PNGs."""
    (root / "c").mkdir(parents=True)
    images = []
    for view_index, (view, azimuth) in enumerate(VIEWS):
        points = _keypoints(view_index)
        keypoints = {name: [points[i] for i in keypoint_set(name).mediapipe_indices] for name in label_sets}
        points_3d = [[0.0, 0.0, 4.0]] * 33
        label = {
            "image": f"c/{view}.png", "width": SIZE, "height": SIZE, "character": "c", "view": view,
            "azimuth_deg": azimuth, "elevation_deg": 0.0, "frame": 1,
            "camera": {"K": [[100.0, 0.0, 48.0], [0.0, 100.0, 48.0], [0.0, 0.0, 1.0]]},
            "bbox": [30.0, 6.0, 36.0, 84.0],
            "keypoints": keypoints,
            "keypoints_3d": {name: [points_3d[i] for i in keypoint_set(name).mediapipe_indices] for name in label_sets},
        }  # fmt: skip
        (root / "c" / f"{view}.json").write_text(json.dumps(label))
        Image.new("RGBA", (SIZE, SIZE), (200, 180, 160, 255)).save(root / "c" / f"{view}.png")
        images.append({"image": f"c/{view}.png", "label": f"c/{view}.json", "render_s": 0.5, "label_s": 0.01})
    character = {"name": "c", "file": "c.glb", **({"height_m": height_m} if height_m else {})}
    dataset = {"spec": {"angles": 3}, "characters": [character], "images": images, "failures": [], "counts": {"images": 3}}
    (root / "dataset.json").write_text(json.dumps(dataset, indent=1) + "\n")
    return root
