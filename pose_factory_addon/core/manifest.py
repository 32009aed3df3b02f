"""The job manifest (seed §4.1) as validated, typed data.

A manifest is pure data: there is no ``script`` field and no path to code anywhere; a
manifest that carries one is refused (seed §3.6 downloaded and executed the script a
manifest named). Every string that later reaches a path or an object key is validated here.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

from . import defaults
from .characters import MAX_PEOPLE_PER_RUN, CharacterSpec, CharacterSpecError, character_spec
from .enhance_options import EnhanceOptions, options_from_dict
from .errors import ManifestError
from .frames import frame_count_estimate, parse_frame_spec
from .motion import LIBRARY, MAX_MOTIONS_PER_JOB, MIRROR_SUFFIX, animations_per_character
from .presets import PRESETS as RENDER_PRESETS
from .randomize import LEVELS as RANDOMIZE_LEVELS
from .security import is_safe_slug
from .skeletons import KEYPOINT_SETS

JobType = Literal["render", "character"]
JOB_TYPES: Final = ("render", "character")
JOB_STATES: Final = ("pending", "processing", "completed", "failed", "cancelled")
PRESETS: Final = tuple(RENDER_PRESETS)
FRAMINGS: Final = ("auto", "fixed")
CHARACTER_EXTENSIONS: Final = ("fbx", "glb", "gltf")
MOTION_EXTENSIONS: Final = ("bvh",)
MANIFEST_VERSION: Final = 1

_JOB_ID = re.compile(r"^(render|character)_(\d{8})_(\d{6})_([0-9a-f]{8})$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CODE_KEYS: Final = frozenset(
    {"script", "scripts", "script_path", "command", "cmd", "exec", "shell", "code", "python", "entrypoint"}
)
_TOP_KEYS: Final = frozenset({"manifest_version", "job_id", "job_type", "created_at", "status", "params"})
_RENDER_KEYS: Final = frozenset(
    {
        "characters", "angles", "elevations", "frames", "preset", "resolution", "labels", "framing", "seed",
        "output_name", "motions", "mirror", "enhance", "randomize", "passes", "ground",
    }
)  # fmt: skip
PASSES: Final = ("depth", "mask", "parts")
_CHARACTER_KEYS: Final = frozenset({"character_params", "count", "formats", "output_name", "seed", "then_render"})
_CHARACTER_PARAM_KEYS: Final = frozenset({"gender", "age", "height", "body_type", "ethnicity", "skin_tone", "randomize"})
CHARACTER_FORMATS: Final = ("fbx", "glb")


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
class MotionRef:
    """A motion retargeted onto every character: a library clip (``sha256`` empty), or a BVH file in the
    store (``assets/motions/<sha256>.<ext>``) shown as ``name``."""

    name: str
    sha256: str = ""
    ext: str = ""

    @property
    def is_library(self) -> bool:
        return not self.sha256

    @property
    def asset_key(self) -> str:
        return f"assets/motions/{self.sha256}.{self.ext}"

    def to_manifest(self) -> str | dict[str, str]:
        """How a manifest lists it: the library name, or ``{name, sha256, ext}``."""
        return self.name if self.is_library else {"name": self.name, "sha256": self.sha256, "ext": self.ext}


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
    output_name: str = defaults.OUTPUT_NAME
    motions: tuple[MotionRef, ...] = ()
    mirror: bool = False
    randomize: str = "none"  # scene variety: none, light or full (core/randomize.py)
    passes: tuple[str, ...] = ()  # extra outputs per image: depth, mask, parts (docs/label-format.md)
    ground: bool = False  # a shadow-catching floor when randomizing (Cycles; about 3x the render time per image)
    enhance: EnhanceOptions | None = None  # then enhance with Stability AI and gate by label QA (docs/enhancement.md)

    def views_per_frame(self) -> int:
        return self.angles * len(self.elevations)

    def animation_names(self) -> list[str]:
        """The animations rendered per character: each motion, then its mirror image when ``mirror``
        (``walk``, ``walk_mirrored``, ...); empty when the characters keep their own animation."""
        names = []
        for motion in self.motions:
            names.append(motion.name)
            if self.mirror:
                names.append(f"{motion.name}{MIRROR_SUFFIX}")
        return names

    def animations_per_character(self) -> int:
        """How many animations each character is rendered in (1 with its own animation)."""
        return animations_per_character(len(self.motions), self.mirror)

    def estimated_images(self) -> int:
        """Images the job will render, with the frame count estimated before the clips are read."""
        frames = frame_count_estimate(parse_frame_spec(self.frames))
        return len(self.characters) * self.animations_per_character() * self.views_per_frame() * frames


@dataclass(frozen=True)
class CharacterParams:
    """A character-generation job (seed §4.1 ``character_params``): ``count`` people from ``spec`` (person ``i``
    with seed ``spec.seed + i``) in ``formats``, and (``then_render``) a render of them with those options."""

    spec: CharacterSpec = field(default_factory=CharacterSpec)
    count: int = 1
    formats: tuple[str, ...] = CHARACTER_FORMATS
    output_name: str = "characters"
    then_render: RenderParams | None = None

    @property
    def seed(self) -> int:
        return self.spec.seed


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
        params = _render_dict(self.params) if isinstance(self.params, RenderParams) else _character_dict(self.params)
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


def _render_dict(params: RenderParams, with_characters: bool = True) -> dict[str, Any]:
    data = asdict(params)
    data["characters"] = [asdict(c) for c in params.characters]
    data["elevations"] = list(params.elevations)
    data["resolution"] = list(params.resolution)
    data["labels"] = list(params.labels)
    data["motions"] = [motion.to_manifest() for motion in params.motions]
    data["passes"] = list(params.passes)
    if params.enhance is None:
        del data["enhance"]
    else:
        data["enhance"] = params.enhance.to_dict()
    if not with_characters:
        del data["characters"]
    return data


def _character_dict(params: CharacterParams) -> dict[str, Any]:
    spec = params.spec
    given = {
        "gender": spec.gender,
        "age": spec.age_years,
        "height": spec.height_m,
        "body_type": spec.body_type,
        "ethnicity": None if spec.ethnicity is None else list(spec.ethnicity),
        "skin_tone": None if spec.skin_tone is None else list(spec.skin_tone),
        "randomize": spec.randomize or None,
    }
    data: dict[str, Any] = {
        "character_params": {key: value for key, value in given.items() if value is not None},
        "count": params.count,
        "formats": list(params.formats),
        "seed": spec.seed,
        "output_name": params.output_name,
    }
    if params.then_render is not None:
        data["then_render"] = _render_dict(params.then_render, with_characters=False)
    return data


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


def _stored_asset(value: dict[str, Any], where: str, extensions: tuple[str, ...]) -> tuple[str, str, str]:
    """``(name, sha256, ext)`` of an asset reference in a manifest, each field checked."""
    _only_keys(value, frozenset({"name", "sha256", "ext"}), where)
    name = _slug_field(value.get("name"), f"{where}.name")
    sha = value.get("sha256")
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise ManifestError(f"{where}.sha256 must be 64 lowercase hex digits")
    ext = value.get("ext")
    if ext not in extensions:
        raise ManifestError(f"{where}.ext {ext!r} is not supported (choose from {', '.join(extensions)})")
    return name, sha, ext


def _character(value: Any, index: int) -> CharacterRef:
    where = f"params.characters[{index}]"
    if not isinstance(value, dict):
        raise ManifestError(f"{where} must be an object with name, sha256 and ext")
    return CharacterRef(*_stored_asset(value, where, CHARACTER_EXTENSIONS))


def _motion(value: Any, index: int) -> MotionRef:
    where = f"params.motions[{index}]"
    if isinstance(value, str):
        if value not in LIBRARY:
            raise ManifestError(f"{where}: unknown motion {value!r} (the library has {', '.join(LIBRARY)})")
        return MotionRef(value)
    if not isinstance(value, dict):
        raise ManifestError(f"{where} must be a library motion name or an object with name, sha256 and ext")
    return MotionRef(*_stored_asset(value, where, MOTION_EXTENSIONS))


def _motions(data: dict[str, Any]) -> tuple[tuple[MotionRef, ...], bool]:
    raw = data.get("motions", [])
    if not isinstance(raw, list):
        raise ManifestError("params.motions must be a list of library motion names or BVH assets")
    if len(raw) > MAX_MOTIONS_PER_JOB:
        raise ManifestError(f"params.motions: at most {MAX_MOTIONS_PER_JOB} motions per job")
    motions = tuple(_motion(item, index) for index, item in enumerate(raw))
    mirror = data.get("mirror", False)
    if not isinstance(mirror, bool):
        raise ManifestError(f"params.mirror must be true or false, got {mirror!r}")
    if mirror and not motions:
        raise ManifestError("params.mirror needs motions to mirror")
    names = [motion.name for motion in motions]
    if len(set(names)) != len(names):
        raise ManifestError("params.motions: names must be unique (they become output folders)")
    mirrored = {f"{name}{MIRROR_SUFFIX}" for name in names} if mirror else set()
    if mirrored & set(names):
        raise ManifestError(f"params.motions: {', '.join(sorted(mirrored & set(names)))} would clash with a mirrored motion")
    return motions, mirror


def render_params_from_dict(data: dict[str, Any], where: str = "params", with_characters: bool = True) -> RenderParams:
    """Validated render parameters from their manifest form (``params`` of a render job); ``with_characters=False``
    validates a character job's ``then_render`` (its characters are the people the job makes).

    Raises:
        ManifestError: a field is missing, unknown, of the wrong type or out of bounds (the message names it).
    """
    _only_keys(data, _RENDER_KEYS if with_characters else _RENDER_KEYS - {"characters"}, where)
    characters = data.get("characters") if with_characters else []
    if with_characters and (not isinstance(characters, list) or not characters):
        raise ManifestError("params.characters must be a non-empty list")
    assert isinstance(characters, list)
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
    motions, mirror = _motions(data)
    randomize = data.get("randomize", "none")
    if randomize not in RANDOMIZE_LEVELS:
        raise ManifestError(f"{where}.randomize {randomize!r} is unknown (choose from {', '.join(RANDOMIZE_LEVELS)})")
    passes = data.get("passes", [])
    if not isinstance(passes, list) or any(item not in PASSES for item in passes):
        raise ManifestError(f"{where}.passes must be a list from {', '.join(PASSES)}")
    ground = data.get("ground", False)
    if not isinstance(ground, bool):
        raise ManifestError(f"{where}.ground must be true or false, got {ground!r}")
    if "parts" in passes and RENDER_PRESETS[preset].engine != "CYCLES":
        raise ManifestError(
            f"{where}.passes: parts needs Cycles, which the {preset} preset does not use; use standard or quality"
        )
    enhance = None
    if data.get("enhance") is not None:
        try:
            enhance = options_from_dict(data["enhance"])
        except ValueError as error:
            raise ManifestError(f"{where}.enhance: {error}") from None
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
        motions=motions,
        mirror=mirror,
        randomize=randomize,
        passes=tuple(dict.fromkeys(passes)),
        ground=ground,
        enhance=enhance,
    )


def _character_params(data: dict[str, Any]) -> CharacterParams:
    _only_keys(data, _CHARACTER_KEYS, "params")
    raw = data.get("character_params", {})
    if not isinstance(raw, dict):
        raise ManifestError("params.character_params must be an object")
    _only_keys(raw, _CHARACTER_PARAM_KEYS, "params.character_params")
    randomize = raw.get("randomize", False)
    if not isinstance(randomize, bool):
        raise ManifestError(f"params.character_params.randomize must be true or false, got {randomize!r}")
    seed = _int_in(data.get("seed", defaults.RANDOM_SEED), 0, 2**31 - 1, "params.seed")
    try:
        spec = character_spec(
            gender=raw.get("gender"),
            age=raw.get("age"),
            height=raw.get("height"),
            body_type=raw.get("body_type"),
            ethnicity=raw.get("ethnicity"),
            skin_tone=raw.get("skin_tone"),
            seed=seed,
            randomize=randomize,
        )
    except CharacterSpecError as error:
        raise ManifestError(f"params.character_params: {error}") from None
    formats = data.get("formats", list(CHARACTER_FORMATS))
    if not isinstance(formats, list) or not formats or any(item not in CHARACTER_FORMATS for item in formats):
        raise ManifestError(f"params.formats must be a non-empty list from {', '.join(CHARACTER_FORMATS)}")
    then_render = data.get("then_render")
    if then_render is not None and not isinstance(then_render, dict):
        raise ManifestError("params.then_render must be an object of render options (or absent)")
    rendered = None if then_render is None else render_params_from_dict(then_render, "params.then_render", with_characters=False)
    return CharacterParams(
        spec=spec,
        count=_int_in(data.get("count", 1), 1, MAX_PEOPLE_PER_RUN, "params.count"),
        formats=tuple(dict.fromkeys(formats)),
        output_name=_slug_field(data.get("output_name", "characters"), "params.output_name"),
        then_render=rendered,
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
    parsed: RenderParams | CharacterParams
    parsed = render_params_from_dict(params) if job_type == "render" else _character_params(params)
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
