"""Run Google's MediaPipe Pose on images and print its 33 landmarks: the independent detector of ``pose-factory qa``.

This file is executed by path with the QA interpreter (``.venv-qa``, which has ``mediapipe==0.10.21``
and ``numpy<2``), never imported: it may use only the standard library, numpy, Pillow and mediapipe,
so it works without Pose Factory installed in that interpreter. The parent
(:mod:`pose_factory_addon.core.qa_detector`) writes one JSON request on stdin::

    {"images": ["/abs/a.png", ...], "model_complexity": 1, "min_detection_confidence": 0.5}

and reads one JSON object per line on stdout: first ``{"kind": "ready", "mediapipe_version": ...}``,
then, in request order, ``{"kind": "image", "index": i, "detected": bool, "width": W, "height": H,
"landmarks": [[x, y, z, visibility, presence] x 33]}`` (x, y in pixels from the image's top-left
corner, z in pixels along the camera axis relative to the hips, as MediaPipe scales it by the image
width) or ``{"kind": "image", "index": i, "error": "..."}`` when an image cannot be read; an
interpreter without mediapipe answers ``{"kind": "fatal", "error": "..."}`` instead of ``ready``.
Log noise of MediaPipe's C++ side goes to stderr.
"""

from __future__ import annotations

import json
import os
import sys

# MediaPipe's C++ logging (glog/absl) writes to stderr; keep it to warnings and above.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# Transparent renders are flattened onto this neutral grey (RGB 0-255) before detection: MediaPipe
# takes RGB, and the black under a transparent film would hide dark clothes.
BACKGROUND_GREY = 128


def _rgb_pixels(path: str) -> tuple[object, int, int]:
    """The image at ``path`` as a ``[H, W, 3]`` uint8 array (alpha flattened onto grey), its width and height."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            flat = Image.new("RGBA", rgba.size, (BACKGROUND_GREY,) * 3 + (255,))
            flat.alpha_composite(rgba)
            rgb = flat.convert("RGB")
        else:
            rgb = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)), rgb.width, rgb.height


def _emit(record: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def main() -> int:
    request = json.load(sys.stdin)
    try:
        import mediapipe as mp
    except ImportError as error:
        _emit({"kind": "fatal", "error": f"{sys.executable} cannot import mediapipe ({error})"})
        return 1

    _emit({"kind": "ready", "mediapipe_version": getattr(mp, "__version__", "unknown")})
    with mp.solutions.pose.Pose(
        static_image_mode=True,
        model_complexity=int(request.get("model_complexity", 1)),
        min_detection_confidence=float(request.get("min_detection_confidence", 0.5)),
    ) as pose:
        for index, path in enumerate(request["images"]):
            try:
                pixels, width, height = _rgb_pixels(path)
            except (OSError, ValueError, SyntaxError) as error:
                _emit({"kind": "image", "index": index, "error": f"{type(error).__name__}: {error}"})
                continue
            result = pose.process(pixels)
            record: dict[str, object] = {"kind": "image", "index": index, "width": width, "height": height}
            if result.pose_landmarks is None:
                record["detected"] = False
            else:
                record["detected"] = True
                record["landmarks"] = [
                    [
                        round(point.x * width, 3),
                        round(point.y * height, 3),
                        round(point.z * width, 3),
                        round(point.visibility, 4),
                        round(point.presence, 4),
                    ]
                    for point in result.pose_landmarks.landmark
                ]
            _emit(record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
