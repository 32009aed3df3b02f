"""Scene variety as data: backgrounds, lights, clothing, skin and camera, sampled from a seed and recorded per image.

A detector trained on one grey figure under one light learns "grey figure"; the synthetic sets
that measurably help pose detectors (PeopleSansPeople, SURREAL, BEDLAM) vary background,
lighting, appearance and camera. Every value is drawn here with numpy from a generator seeded
by (dataset seed, character, frame, view), so one image's scene never depends on how many
workers rendered the set or in which order, and the same seed gives the same dataset. The
Blender layer (:mod:`pose_factory_addon.render.randomize`) only applies the values.

Levels: ``none`` keeps the studio look (for comparisons); ``light`` varies background, lights
and camera; ``full`` also dresses each character (clothing colours, patterns, sleeve and
trouser lengths, skin tone for untextured characters) and uses photo backdrops when the user
gives photos. A shadow-catching ground is a separate choice (``ground``): it costs render time.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final

import numpy as np

from .characters import SKIN_TONES

LEVELS: Final = ("none", "light", "full")
HDRI_SUFFIXES: Final = (".exr", ".hdr")
PHOTO_SUFFIXES: Final = (".jpg", ".jpeg", ".png")
PATTERNS: Final = ("plain", "stripes", "checks", "noise")

# Ranges of the sampled values (the issue's and the anchors' published ranges).
KELVIN_RANGE: Final = (2700.0, 7500.0)
FOCAL_RANGE_MM: Final = (24.0, 85.0)  # 35 mm equivalent focal lengths
FILL_RANGE: Final = (0.5, 0.95)  # share of the tighter image dimension the body fills
ROLL_RANGE_DEG: Final = 5.0
ELEVATION_JITTER_DEG: Final = 10.0
WORLD_STRENGTH_RANGE: Final = (0.4, 1.6)
PHOTO_DISTANCE_RANGE_M: Final = (2.0, 6.0)  # behind the character
PHOTO_BLUR_RANGE: Final = (0.0, 0.02)  # relative blur radius of a photo backdrop
SLEEVE_CHOICES: Final = (0.0, 0.35, 0.55, 1.0)  # where the top ends along the arm: sleeveless, short, elbow, long
TROUSER_CHOICES: Final = (0.3, 0.55, 0.95)  # where the bottom ends along the leg: shorts, knee, long


@dataclass(frozen=True)
class Background:
    """``kind``: ``studio`` (plain grey), ``hdri`` (a world image, lit by it) or ``photo`` (a backdrop plane).

    ``name`` is the image's file name (from Blender's bundled studio lights or ``--backgrounds``),
    ``rotation_deg`` turns an HDRI about the vertical axis, ``strength`` scales its light, and a
    photo stands ``distance_m`` behind the character, blurred by ``blur`` (share of its width).
    """

    kind: str
    name: str = ""
    rotation_deg: float = 0.0
    strength: float = 1.0
    distance_m: float = 0.0
    blur: float = 0.0


@dataclass(frozen=True)
class Light:
    """A sun light: ``role`` (key, fill, rim or sun), direction relative to the camera (azimuth right of the
    view axis, elevation above it, degrees), colour temperature (kelvin), strength and angular size (degrees:
    small is hard, large is soft)."""

    role: str
    azimuth_deg: float
    elevation_deg: float
    kelvin: float
    energy: float
    angle_deg: float


@dataclass(frozen=True)
class Garment:
    """A clothing region's material: sRGB colour, roughness, and a pattern with its second colour and scale."""

    rgb: tuple[float, float, float]
    roughness: float
    pattern: str = "plain"
    pattern_rgb: tuple[float, float, float] = (1.0, 1.0, 1.0)
    pattern_scale: float = 10.0


@dataclass(frozen=True)
class Look:
    """How one character is dressed for the whole dataset; ``skin_rgb`` is ``None`` to keep the file's skin.

    ``sleeve`` and ``trouser`` say where the top and the bottom end along the arm (0 shoulder .. 1
    wrist) and the leg (0 hip .. 1 ankle).
    """

    skin_rgb: tuple[float, float, float] | None
    top: Garment
    bottom: Garment
    shoes: Garment
    sleeve: float
    trouser: float


@dataclass(frozen=True)
class Environment:
    """Background, lights, and whether a shadow-catching ground plane is under the character (one per frame)."""

    background: Background
    lights: tuple[Light, ...]
    ground: bool


@dataclass(frozen=True)
class CameraJitter:
    """One image's camera: the view's azimuth and elevation moved by these degrees, a focal length (mm, 35 mm
    equivalent), a roll about the view axis (degrees), and the share of the frame the body fills."""

    azimuth_deg: float
    elevation_deg: float
    focal_mm: float
    roll_deg: float
    fill: float


def parse_level(text: str) -> str:
    """A randomisation level; raises ``ValueError`` naming the accepted ones."""
    level = str(text).strip().lower()
    if level not in LEVELS:
        raise ValueError(f"unknown randomization {text!r} (choose from {', '.join(LEVELS)})")
    return level


def _rng(seed: int, *parts: str | int) -> np.random.Generator:
    """A generator for one (dataset seed, character, frame, view, purpose): independent of render order."""
    keys = [seed & 0xFFFFFFFF] + [zlib.crc32(part.encode()) if isinstance(part, str) else part & 0xFFFFFFFF for part in parts]
    return np.random.default_rng(np.random.SeedSequence(keys))


def _colour(rng: np.random.Generator, saturation: tuple[float, float], value: tuple[float, float]) -> tuple[float, float, float]:
    hue = float(rng.uniform(0.0, 1.0))
    s, v = float(rng.uniform(*saturation)), float(rng.uniform(*value))
    index = int(hue * 6.0) % 6
    f = hue * 6.0 - math.floor(hue * 6.0)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][index]
    return (round(rgb[0], 4), round(rgb[1], 4), round(rgb[2], 4))


def _garment(rng: np.random.Generator, patterned: bool) -> Garment:
    pattern = str(rng.choice(PATTERNS)) if patterned else "plain"
    return Garment(
        rgb=_colour(rng, (0.05, 0.8), (0.08, 0.9)),
        roughness=round(float(rng.uniform(0.35, 0.95)), 3),
        pattern=pattern,
        pattern_rgb=_colour(rng, (0.0, 0.6), (0.2, 1.0)),
        pattern_scale=round(float(rng.uniform(4.0, 30.0)), 2),
    )


def sample_look(level: str, seed: int, character: str) -> Look | None:
    """The character's clothing and skin for ``full`` (``None`` otherwise: the file's own materials)."""
    if level != "full":
        return None
    rng = _rng(seed, character, "look")
    tones = list(SKIN_TONES.values())
    skin = tones[int(rng.integers(len(tones)))]
    return Look(
        skin_rgb=(round(skin[0], 4), round(skin[1], 4), round(skin[2], 4)),
        top=_garment(rng, patterned=True),
        bottom=_garment(rng, patterned=bool(rng.random() < 0.3)),
        shoes=Garment(_colour(rng, (0.0, 0.4), (0.03, 0.6)), round(float(rng.uniform(0.3, 0.8)), 3)),
        sleeve=float(rng.choice(SLEEVE_CHOICES)),
        trouser=float(rng.choice(TROUSER_CHOICES)),
    )


def _light(role: str, azimuth: float, elevation: float, kelvin: float, energy: float, angle: float) -> Light:
    """A :class:`Light` with its values rounded as labels record them (so a label read back is the light used)."""
    return Light(role, round(azimuth, 2), round(elevation, 2), round(kelvin), round(energy, 3), round(angle, 2))


def _lights(rng: np.random.Generator) -> tuple[Light, ...]:
    """Three-point lighting most of the time, sometimes one hard sun, sometimes soft overcast light."""
    style = float(rng.random())
    kelvin = float(rng.uniform(*KELVIN_RANGE))
    if style < 0.2:
        return (_light("sun", float(rng.uniform(-120, 120)), float(rng.uniform(20, 70)), kelvin, float(rng.uniform(3, 6)), 1.0),)
    if style < 0.35:
        return (
            _light("sun", float(rng.uniform(-180, 180)), float(rng.uniform(50, 85)), kelvin, float(rng.uniform(1, 2.5)), 40.0),
        )
    key_azimuth = float(rng.uniform(20, 70)) * (1 if rng.random() < 0.5 else -1)
    return (
        _light("key", key_azimuth, float(rng.uniform(15, 50)), kelvin, float(rng.uniform(2.0, 4.5)), float(rng.uniform(2, 15))),
        _light(
            "fill",
            -key_azimuth * float(rng.uniform(0.8, 1.5)),
            float(rng.uniform(0, 25)),
            float(rng.uniform(*KELVIN_RANGE)),
            float(rng.uniform(0.3, 1.2)),
            20.0,
        ),
        _light(
            "rim",
            float(rng.uniform(150, 210)),
            float(rng.uniform(20, 55)),
            float(rng.uniform(*KELVIN_RANGE)),
            float(rng.uniform(0.5, 2.0)),
            5.0,
        ),
    )


def sample_environment(
    level: str, seed: int, character: str, frame: int, hdris: Sequence[str], photos: Sequence[str] = (), ground: bool = False
) -> Environment | None:
    """The background, lights and ground of one frame (``None`` for ``none``: the studio look).

    ``hdris`` and ``photos`` are the available image names (Blender's bundled world images and
    the user's ``--backgrounds``); photo backdrops are used at ``full`` only. ``ground`` asks for
    a shadow-catching floor under the character in every frame (in Cycles it about triples the
    render time of an image, so it is the user's choice, not part of a level).
    """
    if level == "none":
        return None
    rng = _rng(seed, character, frame, "environment")
    use_photo = level == "full" and photos and (not hdris or rng.random() < 0.5)
    if use_photo:
        background = Background(
            "photo",
            str(photos[int(rng.integers(len(photos)))]),
            strength=round(float(rng.uniform(0.7, 1.2)), 3),
            distance_m=round(float(rng.uniform(*PHOTO_DISTANCE_RANGE_M)), 3),
            blur=round(float(rng.uniform(*PHOTO_BLUR_RANGE)), 4),
        )
    elif hdris:
        background = Background(
            "hdri",
            str(hdris[int(rng.integers(len(hdris)))]),
            rotation_deg=round(float(rng.uniform(0.0, 360.0)), 2),
            strength=round(float(rng.uniform(*WORLD_STRENGTH_RANGE)), 3),
        )
    else:
        background = Background("studio")
    return Environment(background, _lights(rng), ground=ground)


def sample_camera(level: str, seed: int, character: str, frame: int, view_index: int, angles: int) -> CameraJitter | None:
    """One image's camera variation (``None`` for ``none``): azimuth within half the view spacing, elevation
    within +-10 degrees, focal length 24-85 mm, roll +-5 degrees, the body filling 50-95 % of the frame."""
    if level == "none":
        return None
    rng = _rng(seed, character, frame, view_index, "camera")
    half_spacing = 180.0 / max(angles, 1)
    return CameraJitter(
        azimuth_deg=round(float(rng.uniform(-half_spacing, half_spacing)), 3),
        elevation_deg=round(float(rng.uniform(-ELEVATION_JITTER_DEG, ELEVATION_JITTER_DEG)), 3),
        focal_mm=round(float(np.exp(rng.uniform(math.log(FOCAL_RANGE_MM[0]), math.log(FOCAL_RANGE_MM[1])))), 2),
        roll_deg=round(float(rng.uniform(-ROLL_RANGE_DEG, ROLL_RANGE_DEG)), 3),
        fill=round(float(rng.uniform(*FILL_RANGE)), 3),
    )


def kelvin_rgb(kelvin: float) -> tuple[float, float, float]:
    """The linear RGB (0..1, green = 1 near 6500 K) of a black body, Tanner Helland's fit; for light colours."""
    temperature = min(max(kelvin, 1000.0), 40000.0) / 100.0
    if temperature <= 66:
        red = 255.0
        green = 99.4708025861 * math.log(temperature) - 161.1195681661
        blue = 0.0 if temperature <= 19 else 138.5177312231 * math.log(temperature - 10) - 305.0447927307
    else:
        red = 329.698727446 * (temperature - 60) ** -0.1332047592
        green = 288.1221695283 * (temperature - 60) ** -0.0755148492
        blue = 255.0
    srgb = [min(max(channel, 0.0), 255.0) / 255.0 for channel in (red, green, blue)]
    linear = [value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4 for value in srgb]
    peak = max(linear)
    return (round(linear[0] / peak, 4), round(linear[1] / peak, 4), round(linear[2] / peak, 4))


def scene_record(level: str, environment: Environment | None, look: Look | None, camera: CameraJitter | None) -> dict[str, Any]:
    """What an image's label records under ``scene`` (JSON-ready)."""
    return {
        "randomize": level,
        "environment": None if environment is None else asdict(environment),
        "look": None if look is None else asdict(look),
        "camera": None if camera is None else asdict(camera),
    }


def _spread(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"min": round(min(values), 3), "median": round(float(np.median(values)), 3), "max": round(max(values), 3)}


def _tally(values: Sequence[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def summarise_scenes(scenes: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """What ``dataset.json`` says about the variety of its images' ``scene`` records (``None`` without any):
    images per background kind and image, lighting style, clothing pattern and sleeve/trouser cut, and
    the spread of colour temperature, focal length, roll and fill, so a dataset's variety is checked at a glance."""
    if not scenes:
        return None
    environments = [scene["environment"] for scene in scenes if scene.get("environment")]
    cameras = [scene["camera"] for scene in scenes if scene.get("camera")]
    looks = [scene["look"] for scene in scenes if scene.get("look")]
    backgrounds = [item["background"] for item in environments]
    return {
        "images": len(scenes),
        "backgrounds": _tally([f"{item['kind']}:{item['name']}" if item["name"] else item["kind"] for item in backgrounds]),
        "lighting": _tally(["+".join(light["role"] for light in item["lights"]) for item in environments]),
        "kelvin": _spread([light["kelvin"] for item in environments for light in item["lights"]]),
        "ground": sum(1 for item in environments if item["ground"]),
        "focal_mm": _spread([camera["focal_mm"] for camera in cameras]),
        "roll_deg": _spread([camera["roll_deg"] for camera in cameras]),
        "fill": _spread([camera["fill"] for camera in cameras]),
        "top_patterns": _tally([look["top"]["pattern"] for look in looks]),
        "cuts": _tally([f"sleeve {look['sleeve']:g}, trouser {look['trouser']:g}" for look in looks]),
    }
