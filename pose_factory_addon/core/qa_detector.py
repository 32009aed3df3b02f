"""MediaPipe Pose in its own interpreter: find it, run ``qa_mediapipe.py`` there, read its answers.

MediaPipe 0.10.21 needs ``numpy<2`` and ``protobuf<5`` and brings OpenCV, so it lives in a
separate venv (``make qa-setup`` creates ``.venv-qa``) instead of Pose Factory's own environment
or Blender's. The runner script is executed by path and speaks JSON lines (see its docstring),
so this side needs neither mediapipe nor the runner's numpy version.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

import numpy as np
from numpy.typing import NDArray

from .errors import QAError

QA_PYTHON_ENV: Final = "POSE_FACTORY_QA_PYTHON"
QA_VENV: Final = ".venv-qa"
MEDIAPIPE_LANDMARKS: Final = 33
MODEL_COMPLEXITY: Final = 1  # 0 lite, 1 full, 2 heavy: the pose landmark model bundled in the wheel
MIN_DETECTION_CONFIDENCE: Final = 0.5
SETUP_HINT: Final = (
    "run `make qa-setup` in the Pose Factory checkout, or set POSE_FACTORY_QA_PYTHON to a Python with mediapipe==0.10.21"
)
_TERMINATE_WAIT_S: Final = 10.0
_STDERR_TAIL_LINES: Final = 20

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


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def find_qa_python(environ: Mapping[str, str] | None = None, package_dir: Path | None = None) -> str:
    """The interpreter that runs MediaPipe: ``$POSE_FACTORY_QA_PYTHON``, else ``<checkout>/.venv-qa``, else this one.

    ``package_dir`` is the ``pose_factory_addon`` folder (default: this package's), whose parent is
    the checkout. The current interpreter is used only if it can import mediapipe.

    Raises:
        QAError: none of them is usable (the message says how to set one up).
    """
    environ = os.environ if environ is None else environ
    configured = environ.get(QA_PYTHON_ENV, "").strip()
    if configured:
        if not Path(configured).is_file():
            raise QAError(f"${QA_PYTHON_ENV} is {configured}, which does not exist; {SETUP_HINT}")
        return configured
    package_dir = package_dir or Path(__file__).resolve().parents[1]
    venv_python = _venv_python(package_dir.parent / QA_VENV)
    if venv_python.is_file():
        return str(venv_python)
    if importlib.util.find_spec("mediapipe") is not None:
        return sys.executable
    raise QAError(f"MediaPipe is not installed for label checks: {SETUP_HINT}")


def parse_line(line: str) -> dict[str, Any]:
    """One JSON object from the runner; a line that is not one is a protocol error.

    Raises:
        QAError: the line is not a JSON object with a ``kind``.
    """
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        raise QAError(f"the MediaPipe runner printed something that is not JSON: {line.strip()[:200]!r}") from None
    if not isinstance(record, dict) or "kind" not in record:
        raise QAError(f"the MediaPipe runner printed an unexpected line: {line.strip()[:200]!r}")
    return record


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


def _last_error_line(stderr: IO[str]) -> str:
    stderr.seek(0)
    lines = [line.strip() for line in stderr.read().splitlines()[-_STDERR_TAIL_LINES:] if line.strip()]
    for line in reversed(lines):
        if "error" in line.lower():
            return line
    return lines[-1] if lines else "no message"


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(_TERMINATE_WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
    version = "unknown"
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as stderr:
        try:
            process = subprocess.Popen(
                [python, str(script)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                encoding="utf-8",
                errors="replace",
            )
        except OSError as error:
            raise QAError(f"cannot start the MediaPipe interpreter {python}: {error.strerror or error}") from None
        assert process.stdin is not None and process.stdout is not None
        writer = threading.Thread(target=_write_request, args=(process.stdin, request), daemon=True)
        writer.start()
        try:
            for line in process.stdout:
                if not line.strip():
                    continue
                record = parse_line(line)
                if record["kind"] == "fatal":
                    raise QAError(f"{record.get('error', 'the MediaPipe runner cannot start')}: {SETUP_HINT}")
                if record["kind"] == "ready":
                    version = str(record.get("mediapipe_version", version))
                    continue
                index = len(detections)
                if index >= len(images) or record.get("index") != index:
                    raise QAError(f"the MediaPipe runner answered out of order: {line.strip()[:200]!r}")
                detections.append(detection_from_record(record, images[index]))
                if progress is not None:
                    progress(len(detections), len(images))
            status = process.wait()
        finally:
            _stop(process)
            writer.join(_TERMINATE_WAIT_S)
            process.stdout.close()
        if status != 0 or len(detections) != len(images):
            reason = _last_error_line(stderr)
            raise QAError(
                f"the MediaPipe runner ({python}) stopped after {len(detections)} of {len(images)} images "
                f"(exit status {status}): {reason}"
            )
    return DetectorRun(tuple(detections), version, time.monotonic() - started)


def _write_request(stdin: IO[str], request: Mapping[str, Any]) -> None:
    """Send the request from a thread: a runner that dies early must not block the reader on a full pipe."""
    try:
        stdin.write(json.dumps(request))
        stdin.close()
    except (OSError, ValueError):
        pass
