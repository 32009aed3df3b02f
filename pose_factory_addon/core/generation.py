"""Generate people: send specs to the Anny worker (its own interpreter) and collect the rest-pose bodies it writes.

The worker (``pose_factory_addon/anny_worker.py``) runs in the characters venv made by
``make characters-setup`` (PyTorch, Anny), writes one ``.npz`` per person and reports the
measured height and waist; :mod:`pose_factory_addon.render.characters` turns those files into
rigged FBX/GLB characters in Blender. This side needs neither torch nor bpy.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from .characters import CharacterSpec, age_years_of, anny_request, character_slug
from .errors import CharacterError
from .side_process import SideEnvironment

CHARACTERS_PYTHON_ENV: Final = "POSE_FACTORY_CHARACTERS_PYTHON"
CHARACTERS_VENV: Final = ".venv-anny"
SETUP_HINT: Final = (
    "run `make characters-setup` in the Pose Factory checkout (PyTorch CPU and the Anny body model, about 1 GB; "
    "the first run builds Anny's cache in 1-2 minutes), or set POSE_FACTORY_CHARACTERS_PYTHON to a Python with anny"
)
CHARACTERS_ENVIRONMENT: Final = SideEnvironment(
    "the Anny body model", "character generation", CHARACTERS_PYTHON_ENV, CHARACTERS_VENV, "anny", SETUP_HINT, CharacterError
)

# Surface landmarks of generated people as vertices of the MakeHuman base mesh, which every Anny body
# shares whatever its shape: exact, as BEDLAM's fixed SMPL-X vertices are. Chosen once on the neutral
# adult against Anny's own COCO keypoint regressor and its face segmentation (eyes = front of the
# cornea, eye corners = skin at the ends of the eye opening, mouth corners = skin at the ends of the
# lips, nose = tip, ears = the tragus next to the ear canal, heels = back of the heel at sole height,
# foot index = the front of the big toe); left and right are exact mirror vertices. Finger points come
# from the rig's bones.
LANDMARK_BASE_VERTICES: Final = {
    "nose": 297,
    "left_eye": 14598,
    "right_eye": 14670,
    "left_eye_inner": 13360,
    "right_eye_inner": 6764,
    "left_eye_outer": 7754,
    "right_eye_outer": 1062,
    "left_ear": 12173,
    "right_ear": 5576,
    "mouth_left": 7195,
    "mouth_right": 435,
    "left_heel": 12925,
    "right_heel": 6328,
    "left_foot_index": 11551,
    "right_foot_index": 4933,
}

GENERATED_CHARACTER_PROPERTY: Final = "pose_factory_character"  # custom property on a generated character's armature
GENERATOR: Final = "pose-factory/anny"

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class GeneratedBody:
    """One person the worker wrote: ``npz`` (rest pose, see the worker's docstring) and what was measured on it.

    ``phenotype`` holds Anny's final parameters (given, drawn and solved); ``height_m`` the standing
    height of the mesh and ``waist_m`` its waist circumference (metres); ``error`` says why a person
    could not be made (then ``npz`` is ``None``).
    """

    name: str
    spec: CharacterSpec
    npz: Path | None = None
    phenotype: dict[str, float] = field(default_factory=dict)
    height_m: float = 0.0
    waist_m: float = 0.0
    seconds: float = 0.0
    error: str = ""


@dataclass(frozen=True)
class GenerationRun:
    """Every requested person in order, Anny's version, its load time and the wall time (seconds)."""

    bodies: tuple[GeneratedBody, ...]
    anny_version: str
    load_s: float
    seconds: float


def worker_script() -> Path:
    """``anny_worker.py`` at the package root (in a checkout and in the installed extension alike)."""
    return Path(__file__).resolve().parents[1] / "anny_worker.py"


def find_characters_python() -> str:
    """The interpreter with Anny (see :class:`~.side_process.SideEnvironment`); raises :class:`CharacterError`."""
    return CHARACTERS_ENVIRONMENT.find_python()


def body_requests(specs: Sequence[CharacterSpec], names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The worker's ``people`` entries for ``specs`` (names default to :func:`character_slug`)."""
    requests = []
    for index, spec in enumerate(specs):
        request = anny_request(spec)
        requests.append(
            {
                "name": names[index] if names else character_slug(spec, index),
                "seed": request.seed,
                "height_m": request.height_m,
                "phenotype": request.phenotype,
            }
        )
    return requests


def generate_bodies(
    specs: Sequence[CharacterSpec],
    out_dir: Path,
    progress: Progress | None = None,
    python: str | None = None,
    names: Sequence[str] | None = None,
) -> GenerationRun:
    """Generate one rest-pose body per spec into ``out_dir`` (``<name>.npz``) with one worker process.

    ``progress`` gets ``(people done, total)``; an exception it raises stops the worker. A person
    that cannot be made (an unreachable height) comes back with ``error`` set; the others are made.

    Raises:
        CharacterError: no characters interpreter, or the worker crashed or broke its protocol.
    """
    python = python or find_characters_python()
    out_dir.mkdir(parents=True, exist_ok=True)
    people = body_requests(specs, names)
    request = {"out_dir": str(out_dir.resolve()), "landmark_base_vertices": LANDMARK_BASE_VERTICES, "people": people}
    started = time.monotonic()
    bodies: list[GeneratedBody] = []
    ready: dict[str, Any] = {}

    def handle(record: dict[str, Any]) -> None:
        if record["kind"] == "ready":
            ready.update(record)
            return
        index = len(bodies)
        if record["kind"] != "person" or index >= len(people) or record.get("index") != index:
            raise CharacterError(f"the character generator answered out of order: {str(record)[:200]!r}")
        spec = specs[index]
        if record.get("error"):
            bodies.append(GeneratedBody(people[index]["name"], spec, error=str(record["error"])))
        else:
            try:
                bodies.append(
                    GeneratedBody(
                        people[index]["name"],
                        spec,
                        Path(record["npz"]),
                        {str(key): float(value) for key, value in record["phenotype"].items()},
                        float(record["height_m"]),
                        float(record["waist_m"]),
                        float(record["seconds"]),
                    )
                )
            except (KeyError, TypeError, ValueError) as error:
                raise CharacterError(f"the character generator sent an incomplete answer ({error!r})") from None
        if progress is not None:
            progress(len(bodies), len(people))

    status, reason = CHARACTERS_ENVIRONMENT.run(python, worker_script(), request, handle)
    if status != 0 or len(bodies) != len(people):
        raise CharacterError(
            f"the character generator ({python}) stopped after {len(bodies)} of {len(people)} people "
            f"(exit status {status}): {reason}"
        )
    return GenerationRun(
        tuple(bodies), str(ready.get("anny_version", "unknown")), float(ready.get("load_s", 0.0)), time.monotonic() - started
    )


def generated_character_record(
    body: GeneratedBody, skin_tone: tuple[float, float, float], landmarks: Mapping[str, Sequence[float]]
) -> dict[str, Any]:
    """What a generated character file carries about itself (and its ``.json`` repeats).

    ``landmarks_m`` are the rest positions (metres, in the importer's normalised frame: facing -Y,
    feet on z = 0, hips over the origin) of the landmark vertices; the renderer finds them again
    on the imported mesh, whatever order the file format gives the vertices.
    """
    return {
        "generator": GENERATOR,
        "name": body.name,
        "spec": body.spec.to_dict(),
        "phenotype": body.phenotype,
        "age_years": round(age_years_of(body.phenotype.get("age", 0.5)), 2),
        "height_m": round(body.height_m, 4),
        "waist_m": round(body.waist_m, 4),
        "skin_tone": [round(float(value), 4) for value in skin_tone],
        "landmarks_m": {name: [round(float(value), 6) for value in position] for name, position in landmarks.items()},
    }


def generated_landmarks(text: Any) -> dict[str, tuple[float, float, float]] | None:
    """The landmark rest positions of a generated character's custom property, or ``None`` when it is not one.

    The property comes from a file and may have been edited: anything malformed counts as "not
    generated" (the renderer then uses its geometric rules), never as an error.
    """
    try:
        record = json.loads(text) if isinstance(text, str) else None
        if not isinstance(record, dict) or record.get("generator") != GENERATOR:
            return None
        landmarks = {}
        for name, position in record["landmarks_m"].items():
            if name not in LANDMARK_BASE_VERTICES or len(position) != 3:
                return None
            values = tuple(float(value) for value in position)
            if not all(math.isfinite(value) for value in values):
                return None
            landmarks[name] = (values[0], values[1], values[2])
        return landmarks
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def generated_records(folder: Path) -> list[dict[str, Any]]:
    """The records (``<name>.json``) of the generated characters in ``folder``, by name; other JSON files are skipped.

    Raises:
        CharacterError: the folder cannot be read.
    """
    try:
        candidates = sorted(folder.glob("*.json"))
    except OSError as error:
        raise CharacterError(f"cannot read {folder}: {error.strerror or error}") from None
    records = []
    for path in candidates:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(record, dict) and record.get("generator") == GENERATOR:
            records.append(record)
    return records
