"""The job manifest (seed §4.1) as validated, typed data.

A manifest is pure data: there is no ``script`` field and no path to code anywhere; a
manifest that carries one is refused (seed §3.6 downloaded and executed the script a
manifest named). Every string that later reaches a path or an object key is validated here.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from . import defaults
from .errors import ManifestError
from .frames import parse_frame_spec
from .security import is_safe_slug
from .skeletons import KEYPOINT_SETS

JobType = Literal["render", "character"]
JOB_TYPES: Final = ("render", "character")
JOB_STATES: Final = ("pending", "processing", "completed", "failed", "cancelled")
PRESETS: Final = ("preview", "standard", "quality", "seed")
FRAMINGS: Final = ("auto", "fixed")
CHARACTER_EXTENSIONS: Final = ("fbx", "glb", "gltf")
MANIFEST_VERSION: Final = 1

_JOB_ID = re.compile(r"^(render|character)_(\d{8})_(\d{6})_([0-9a-f]{8})$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CODE_KEYS: Final = frozenset(
    {"script", "scripts", "script_path", "command", "cmd", "exec", "shell", "code", "python", "entrypoint"}
)
_TOP_KEYS: Final = frozenset({"manifest_version", "job_id", "job_type", "created_at", "status", "params"})
_RENDER_KEYS: Final = frozenset(
    {"characters", "angles", "elevations", "frames", "preset", "resolution", "labels", "framing", "seed", "output_name"}
)
_CHARACTER_KEYS: Final = frozenset({"character_params", "output_name", "seed"})
_CHARACTER_PARAM_KEYS: Final = frozenset({"gender", "age", "body_type", "ethnicity"})


def new_job_id(job_type: str, now: datetime | None = None) -> str:
    """A fresh id ``<type>_<YYYYMMDD>_<HHMMSS>_<8 hex>`` (UTC)."""
    if job_type not in JOB_TYPES:
        raise ManifestError(f"unknown job_type {job_type!r} (choose from {', '.join(JOB_TYPES)})")
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{job_type}_{moment:%Y%m%d_%H%M%S}_{secrets.token_hex(4)}"


def validate_job_id(job_id: object) -> str:
    """Return ``job_id`` if it has the one accepted format, else raise ``ManifestError``."""
    if not isinstance(job_id, str):
        raise ManifestError("job id must be text")
    match = _JOB_ID.fullmatch(job_id)
    if not match:
        shown = job_id if len(job_id) <= 80 else job_id[:77] + "..."
        raise ManifestError(f"invalid job id {shown!r}: expected <render|character>_<YYYYMMDD>_<HHMMSS>_<8 hex digits>")
    try:
        datetime.strptime(match.group(2) + match.group(3), "%Y%m%d%H%M%S")
    except ValueError:
        raise ManifestError(f"invalid job id {job_id!r}: the date or time does not exist") from None
    return job_id


def job_type_of(job_id: str) -> str:
    """The job type encoded in a valid job id."""
    return validate_job_id(job_id).split("_", 1)[0]


@dataclass(frozen=True)
class CharacterRef:
    """A character file in the store: ``assets/characters/<sha256>.<ext>``, shown as ``name``."""

    name: str
    sha256: str
    ext: str

    @property
    def asset_key(self) -> str:
        return f"assets/characters/{self.sha256}.{self.ext}"


@dataclass(frozen=True)
class RenderParams:
    """What to render: characters, views, frames, quality and labels."""

    characters: tuple[CharacterRef, ...]
    angles: int = defaults.ANGLES
    elevations: tuple[float, ...] = defaults.ELEVATIONS_DEG
    frames: str = defaults.FRAMES
    preset: str = defaults.PRESET
    resolution: tuple[int, int] = defaults.RESOLUTION
    labels: tuple[str, ...] = defaults.LABEL_SETS
    framing: str = defaults.FRAMING
    seed: int = defaults.RANDOM_SEED
    output_name: str = "dataset"

    def views_per_frame(self) -> int:
        return self.angles * len(self.elevations)


@dataclass(frozen=True)
class CharacterParams:
    """Parameters of a character-generation job (seed §4.1 ``character_params``)."""

    gender: str = "neutral"
    age: float = 30.0
    body_type: str = "average"
    ethnicity: str = "unspecified"
    output_name: str = "character"
    seed: int = defaults.RANDOM_SEED


@dataclass(frozen=True)
class JobManifest:
    """A job as stored in ``jobs/pending/<job_id>.json``."""

    job_id: str
    job_type: str
    created_at: str
    params: RenderParams | CharacterParams
    status: str = "pending"
    manifest_version: int = MANIFEST_VERSION

    def to_dict(self) -> dict[str, Any]:
        params = asdict(self.params)
        if isinstance(self.params, RenderParams):
            params["characters"] = [asdict(c) for c in self.params.characters]
            params["elevations"] = list(self.params.elevations)
            params["resolution"] = list(self.params.resolution)
            params["labels"] = list(self.params.labels)
        else:
            params = {
                "character_params": {k: params[k] for k in ("gender", "age", "body_type", "ethnicity")},
                "output_name": params["output_name"],
                "seed": params["seed"],
            }
        return {
            "manifest_version": self.manifest_version,
            "job_id": self.job_id,
            "job_type": self.job_type,
            "created_at": self.created_at,
            "status": self.status,
            "params": params,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def _reject_code(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).lower() in _CODE_KEYS:
                raise ManifestError(
                    f"{where}{key}: manifests are data and may not name code to run "
                    "(the worker maps job_type to a built-in handler)"
                )
            _reject_code(item, f"{where}{key}.")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _reject_code(item, f"{where}{index}.")


def _only_keys(data: dict[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ManifestError(f"{where}: unknown field(s) {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))})")


def _int_in(value: Any, low: int, high: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ManifestError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ManifestError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _slug_field(value: Any, name: str) -> str:
    if not isinstance(value, str) or not is_safe_slug(value):
        raise ManifestError(f"{name} {value!r} is not a safe name (letters, digits, _ and - only, at most 64)")
    return value


def _character(value: Any, index: int) -> CharacterRef:
    where = f"params.characters[{index}]"
    if not isinstance(value, dict):
        raise ManifestError(f"{where} must be an object with name, sha256 and ext")
    _only_keys(value, frozenset({"name", "sha256", "ext"}), where)
    name = _slug_field(value.get("name"), f"{where}.name")
    sha = value.get("sha256")
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise ManifestError(f"{where}.sha256 must be 64 lowercase hex digits")
    ext = value.get("ext")
    if ext not in CHARACTER_EXTENSIONS:
        raise ManifestError(f"{where}.ext {ext!r} is not supported (choose from {', '.join(CHARACTER_EXTENSIONS)})")
    return CharacterRef(name, sha, ext)


def _render_params(data: dict[str, Any]) -> RenderParams:
    _only_keys(data, _RENDER_KEYS, "params")
    characters = data.get("characters")
    if not isinstance(characters, list) or not characters:
        raise ManifestError("params.characters must be a non-empty list")
    if len(characters) > defaults.MAX_CHARACTERS_PER_JOB:
        raise ManifestError(f"params.characters: at most {defaults.MAX_CHARACTERS_PER_JOB} characters per job")
    refs = tuple(_character(item, i) for i, item in enumerate(characters))
    names = [ref.name for ref in refs]
    if len(set(names)) != len(names):
        raise ManifestError("params.characters: names must be unique (they become output folders)")
    angles = _int_in(data.get("angles", defaults.ANGLES), defaults.MIN_ANGLES, defaults.MAX_ANGLES, "params.angles")
    elevations_raw = data.get("elevations", list(defaults.ELEVATIONS_DEG))
    if not isinstance(elevations_raw, list) or not 1 <= len(elevations_raw) <= defaults.MAX_ELEVATIONS:
        raise ManifestError(f"params.elevations must be a list of 1 to {defaults.MAX_ELEVATIONS} angles in degrees")
    elevations = []
    for value in elevations_raw:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ManifestError(f"params.elevations: {value!r} is not a number")
        if not defaults.MIN_ELEVATION_DEG <= value <= defaults.MAX_ELEVATION_DEG:
            raise ManifestError(
                f"params.elevations: {value} is outside {defaults.MIN_ELEVATION_DEG}..{defaults.MAX_ELEVATION_DEG} degrees"
            )
        elevations.append(float(value))
    frames = data.get("frames", defaults.FRAMES)
    try:
        frames = str(parse_frame_spec(frames if isinstance(frames, str) else str(frames)))
    except ValueError as error:
        raise ManifestError(f"params.frames: {error}") from None
    preset = data.get("preset", defaults.PRESET)
    if preset not in PRESETS:
        raise ManifestError(f"params.preset {preset!r} is unknown (choose from {', '.join(PRESETS)})")
    resolution = data.get("resolution", list(defaults.RESOLUTION))
    if not isinstance(resolution, list) or len(resolution) != 2:
        raise ManifestError("params.resolution must be [width, height]")
    width = _int_in(resolution[0], defaults.MIN_RESOLUTION, defaults.MAX_RESOLUTION, "params.resolution width")
    height = _int_in(resolution[1], defaults.MIN_RESOLUTION, defaults.MAX_RESOLUTION, "params.resolution height")
    labels = data.get("labels", list(defaults.LABEL_SETS))
    if not isinstance(labels, list) or not labels or any(label not in KEYPOINT_SETS for label in labels):
        raise ManifestError(f"params.labels must be a non-empty list from {', '.join(KEYPOINT_SETS)}")
    framing = data.get("framing", defaults.FRAMING)
    if framing not in FRAMINGS:
        raise ManifestError(f"params.framing {framing!r} is unknown (choose from {', '.join(FRAMINGS)})")
    seed = _int_in(data.get("seed", defaults.RANDOM_SEED), 0, 2**31 - 1, "params.seed")
    output_name = _slug_field(data.get("output_name", "dataset"), "params.output_name")
    return RenderParams(
        characters=refs,
        angles=angles,
        elevations=tuple(elevations),
        frames=frames,
        preset=preset,
        resolution=(width, height),
        labels=tuple(dict.fromkeys(labels)),
        framing=framing,
        seed=seed,
        output_name=output_name,
    )


def _character_params(data: dict[str, Any]) -> CharacterParams:
    _only_keys(data, _CHARACTER_KEYS, "params")
    raw = data.get("character_params", {})
    if not isinstance(raw, dict):
        raise ManifestError("params.character_params must be an object")
    _only_keys(raw, _CHARACTER_PARAM_KEYS, "params.character_params")
    age = raw.get("age", 30.0)
    if isinstance(age, bool) or not isinstance(age, (int, float)) or not 1 <= age <= 120:
        raise ManifestError(f"params.character_params.age must be a number from 1 to 120, got {age!r}")
    texts = {
        key: _slug_field(raw[key], f"params.character_params.{key}") for key in ("gender", "body_type", "ethnicity") if key in raw
    }
    return CharacterParams(
        age=float(age),
        output_name=_slug_field(data.get("output_name", "character"), "params.output_name"),
        seed=_int_in(data.get("seed", defaults.RANDOM_SEED), 0, 2**31 - 1, "params.seed"),
        **texts,
    )


def _iso_timestamp(value: Any) -> str:
    if not isinstance(value, str):
        raise ManifestError("created_at must be an ISO-8601 timestamp")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ManifestError(f"created_at {value!r} is not an ISO-8601 timestamp") from None
    if moment.tzinfo is None:
        raise ManifestError(f"created_at {value!r} needs a time zone (for example ...Z)")
    return value


def manifest_from_dict(data: Any) -> JobManifest:
    """Validate a decoded manifest; raises ``ManifestError`` naming the first problem."""
    if not isinstance(data, dict):
        raise ManifestError("a manifest must be a JSON object")
    _reject_code(data, "")
    _only_keys(data, _TOP_KEYS, "manifest")
    version = data.get("manifest_version", MANIFEST_VERSION)
    if version != MANIFEST_VERSION:
        raise ManifestError(f"manifest_version {version!r} is not supported (this worker reads {MANIFEST_VERSION})")
    job_id = validate_job_id(data.get("job_id"))
    job_type = data.get("job_type")
    if job_type not in JOB_TYPES:
        raise ManifestError(f"unknown job_type {job_type!r} (choose from {', '.join(JOB_TYPES)})")
    if job_type_of(job_id) != job_type:
        raise ManifestError(f"job id {job_id!r} does not match job_type {job_type!r}")
    status = data.get("status", "pending")
    if status not in JOB_STATES:
        raise ManifestError(f"status {status!r} is unknown (choose from {', '.join(JOB_STATES)})")
    params = data.get("params")
    if not isinstance(params, dict):
        raise ManifestError("params must be an object")
    parsed: RenderParams | CharacterParams = _render_params(params) if job_type == "render" else _character_params(params)
    return JobManifest(
        job_id=job_id,
        job_type=job_type,
        created_at=_iso_timestamp(data.get("created_at")),
        params=parsed,
        status=status,
    )


def manifest_from_json(text: str | bytes) -> JobManifest:
    """Decode and validate a manifest file's content."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise ManifestError(f"manifest is not valid JSON ({error})") from None
    return manifest_from_dict(data)


def new_render_manifest(params: RenderParams, now: datetime | None = None) -> JobManifest:
    """A pending render job for ``params``, re-validated through the same path as a stored one."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    draft = JobManifest(
        job_id=new_job_id("render", moment),
        job_type="render",
        created_at=moment.isoformat(timespec="seconds").replace("+00:00", "Z"),
        params=params,
    )
    return manifest_from_dict(draft.to_dict())
