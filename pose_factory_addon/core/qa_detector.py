"""MediaPipe Pose in its own interpreter: find it, run ``qa_mediapipe.py`` there, read its answers.

MediaPipe 0.10.21 needs ``numpy<2`` and ``protobuf<5`` and brings OpenCV, so it lives in a
separate venv (``make qa-setup`` creates ``.venv-qa``) instead of Pose Factory's own environment
or Blender's. The runner script is executed by path and speaks JSON lines (see its docstring),
so this side needs neither mediapipe nor the runner's numpy version.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from .errors import QAError
from .side_process import SideEnvironment

QA_PYTHON_ENV: Final = "POSE_FACTORY_QA_PYTHON"
QA_VENV: Final = ".venv-qa"
MEDIAPIPE_LANDMARKS: Final = 33
MODEL_COMPLEXITY: Final = 1  # 0 lite, 1 full, 2 heavy: the pose landmark model bundled in the wheel
MIN_DETECTION_CONFIDENCE: Final = 0.5
SETUP_HINT: Final = (
    "run `make qa-setup` in the Pose Factory checkout, or set POSE_FACTORY_QA_PYTHON to a Python with mediapipe==0.10.21"
)

Progress = Callable[[int, int], None]
"""Called with ``(images done, images total)`` after each image; may raise to stop the run."""


@dataclass(frozen=True)
class Detection:
    """MediaPipe's answer for one image.

    ``landmarks`` is ``[33, 5]``: x, y in pixels from the top-left corner, z in pixels (MediaPipe's
    depth relative to the hips, scaled like x), visibility and presence scores in 0-1 (the legacy
    Pose solution leaves presence at 0); ``None`` when no person was detected.
    """

    detected: bool
    width: int
    height: int
    landmarks: NDArray[np.float64] | None = None


@dataclass(frozen=True)
class DetectorRun:
    """Every image's detection in request order, the MediaPipe version and the wall time of the run (seconds)."""

    detections: tuple[Detection, ...]
    mediapipe_version: str
    seconds: float


def runner_script() -> Path:
    """``qa_mediapipe.py`` at the package root (in a checkout and in the installed extension alike)."""
    return Path(__file__).resolve().parents[1] / "qa_mediapipe.py"


QA_ENVIRONMENT: Final = SideEnvironment("MediaPipe", "label checks", QA_PYTHON_ENV, QA_VENV, "mediapipe", SETUP_HINT, QAError)


def find_qa_python(environ: Mapping[str, str] | None = None, package_dir: Path | None = None) -> str:
    """The interpreter that runs MediaPipe: ``$POSE_FACTORY_QA_PYTHON``, else ``<checkout>/.venv-qa``, else this one.

    ``package_dir`` is the ``pose_factory_addon`` folder (default: this package's), whose parent is
    the checkout. The current interpreter is used only if it can import mediapipe.

    Raises:
        QAError: none of them is usable (the message says how to set one up).
    """
    return QA_ENVIRONMENT.find_python(environ, package_dir)


def parse_line(line: str) -> dict[str, Any]:
    """One JSON object from the runner; a line that is not one is a protocol error (:class:`QAError`)."""
    return QA_ENVIRONMENT.parse_line(line)


def detection_from_record(record: Mapping[str, Any], image: Path) -> Detection:
    """A :class:`Detection` from the runner's ``image`` line for ``image``.

    Raises:
        QAError: the runner could not read the image, or sent landmarks of the wrong shape.
    """
    if "error" in record:
        raise QAError(f"cannot read image {image}: {record['error']}")
    try:
        width, height = int(record["width"]), int(record["height"])
        if not record.get("detected"):
            return Detection(False, width, height)
        landmarks = np.asarray(record["landmarks"], dtype=np.float64)
    except (KeyError, TypeError, ValueError) as error:
        raise QAError(f"the MediaPipe runner sent an incomplete answer for {image} ({error!r})") from None
    if landmarks.shape != (MEDIAPIPE_LANDMARKS, 5):
        raise QAError(f"the MediaPipe runner sent landmarks of shape {landmarks.shape} for {image}, expected (33, 5)")
    return Detection(True, width, height, landmarks)


def run_detector(
    images: Sequence[Path],
    python: str | None = None,
    progress: Progress | None = None,
    script: Path | None = None,
    model_complexity: int = MODEL_COMPLEXITY,
) -> DetectorRun:
    """Run MediaPipe Pose on ``images`` (absolute paths) in the QA interpreter, one subprocess for all.

    ``progress`` is called after every image; an exception it raises (a cancelled UI task)
    terminates the subprocess and propagates. ``script`` replaces the runner (tests).

    Raises:
        QAError: no QA interpreter, the runner crashed or broke its protocol, or an image is unreadable.
    """
    python = python or find_qa_python()
    script = script or runner_script()
    request = {
        "images": [str(path) for path in images],
        "model_complexity": model_complexity,
        "min_detection_confidence": MIN_DETECTION_CONFIDENCE,
    }
    started = time.monotonic()
    detections: list[Detection] = []
    version = ["unknown"]

    def handle(record: dict[str, Any]) -> None:
        if record["kind"] == "ready":
            version[0] = str(record.get("mediapipe_version", version[0]))
            return
        index = len(detections)
        if index >= len(images) or record.get("index") != index:
            raise QAError(f"the MediaPipe runner answered out of order: {json.dumps(record)[:200]!r}")
        detections.append(detection_from_record(record, images[index]))
        if progress is not None:
            progress(len(detections), len(images))

    status, reason = QA_ENVIRONMENT.run(python, script, request, handle)
    if status != 0 or len(detections) != len(images):
        raise QAError(
            f"the MediaPipe runner ({python}) stopped after {len(detections)} of {len(images)} images "
            f"(exit status {status}): {reason}"
        )
    return DetectorRun(tuple(detections), version[0], time.monotonic() - started)
