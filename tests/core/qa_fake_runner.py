"""A stand-in for ``qa_mediapipe.py`` that speaks its protocol without MediaPipe (tests of the parent side).

``FAKE_QA_MODE`` picks the behaviour: ``echo`` "detects" each image's own label (the JSON file with
the image's stem), so labels agree perfectly; ``miss`` detects nobody; ``crash`` dies after the first
image with a traceback; ``garbage`` prints a non-JSON line; ``slow`` sleeps 0.5 s per image.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

COCO17_IN_MEDIAPIPE33 = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)


def _mediapipe33(keypoints: dict) -> list:
    if "mediapipe33" in keypoints:
        return keypoints["mediapipe33"]
    points = [[0.0, 0.0, 0]] * 33
    for coco_index, mediapipe_index in enumerate(COCO17_IN_MEDIAPIPE33):
        points[mediapipe_index] = keypoints["coco17"][coco_index]
    return points


def main() -> int:
    mode = os.environ.get("FAKE_QA_MODE", "echo")
    request = json.load(sys.stdin)
    print(json.dumps({"kind": "ready", "mediapipe_version": "fake"}), flush=True)
    if mode == "garbage":
        print("INFO: this is not JSON", flush=True)
        return 0
    for index, path in enumerate(request["images"]):
        if mode == "crash" and index == 1:
            raise RuntimeError("the fake detector crashed")
        if mode == "slow":
            time.sleep(0.5)
        image = Path(path)
        if not image.is_file():
            print(json.dumps({"kind": "image", "index": index, "error": f"FileNotFoundError: {path}"}), flush=True)
            continue
        label = json.loads(image.with_suffix(".json").read_text())
        record = {"kind": "image", "index": index, "width": label["width"], "height": label["height"]}
        if mode == "miss":
            record["detected"] = False
        else:
            record["detected"] = True
            record["landmarks"] = [[x, y, 0.0, 0.9 if v == 2 else 0.1, 0.0] for x, y, v in _mediapipe33(label["keypoints"])]
        print(json.dumps(record), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
