"""Who to generate: a validated description of a person, and what it means for the Anny body model.

A :class:`CharacterSpec` is the user's language (gender, age in years, height in metres, a
body-type word, ethnicity, skin tone); :func:`anny_request` turns it into the Anny model's
normalised phenotype parameters (0..1) and a target height, which the characters worker
(``pose_factory_addon/anny_worker.py``, its own venv) reaches by measuring the generated mesh.
Fields left out are drawn from Anny's population distribution when ``randomize`` is set,
otherwise they take the defaults below. Nothing here imports torch, anny or bpy.

:func:`describe` is a small rule-based parser ("tall elderly woman, heavy build") for people
who would rather type a sentence; it uses no network and no model.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from dataclasses import asdict, dataclass, replace
from typing import Any, Final

import numpy as np

from .security import safe_slug

MIN_AGE_YEARS: Final = 1.0
MAX_AGE_YEARS: Final = 90.0
MIN_HEIGHT_M: Final = 0.8
MAX_HEIGHT_M: Final = 2.2
MAX_PEOPLE_PER_RUN: Final = 1000
DEFAULT_AGE_YEARS: Final = 30.0
DEFAULT_GENDER: Final = 0.0  # male, when neither given nor drawn
DEFAULT_BODY_TYPE: Final = "average"
DEFAULT_ETHNICITY: Final = "mixed"
_BUILD_JITTER: Final = 0.08  # a seed moves muscle and weight this far (Anny units) around the body type's values
_INDIVIDUAL_RANGE: Final = (0.3, 0.7)  # proportions, cup size and firmness a seed picks from when not drawn
_HEIGHT_SPREAD: Final = 0.02  # relative standard deviation of a median height that was not asked for

GENDERS: Final = {"male": 0.0, "female": 1.0}


@dataclass(frozen=True)
class BodyType:
    """Anny's muscle, weight and proportions parameters (0..1) for a body-type word."""

    muscle: float
    weight: float
    proportions: float


BODY_TYPES: Final = {
    "slim": BodyType(0.35, 0.15, 0.5),
    "average": BodyType(0.5, 0.5, 0.5),
    "athletic": BodyType(0.75, 0.4, 0.5),
    "heavy": BodyType(0.45, 0.95, 0.5),
    "muscular": BodyType(1.0, 0.65, 0.5),
}

# Anny's ethnicity blend shapes (african, asian, caucasian), as weights summing to 1.
ETHNICITIES: Final = {
    "african": (1.0, 0.0, 0.0),
    "asian": (0.0, 1.0, 0.0),
    "caucasian": (0.0, 0.0, 1.0),
    "mixed": (1 / 3, 1 / 3, 1 / 3),
}

# Skin tones (sRGB 0..1), light to dark, after the six Fitzpatrick types; a spec without a tone
# gets the one its ethnicity weights point to (african -> V-VI, asian -> III, caucasian -> I-II).
SKIN_TONES: Final = {
    "very_light": (0.96, 0.84, 0.75),
    "light": (0.92, 0.76, 0.64),
    "medium": (0.82, 0.64, 0.5),
    "olive": (0.7, 0.52, 0.38),
    "brown": (0.52, 0.36, 0.25),
    "dark": (0.33, 0.22, 0.15),
}
_TONE_ORDER: Final = tuple(SKIN_TONES)
_ETHNICITY_TONE_INDEX: Final = (4.5, 2.0, 0.6)  # where pure african / asian / caucasian sit on _TONE_ORDER
_HEX_COLOUR = re.compile(r"^#?([0-9a-fA-F]{6})$")

# Anny's age parameter against age in years (its calibration: anny/data/shape_calibration/*.pth).
_ANNY_AGE: Final = (0.0, 0.05, 0.215, 0.415, 0.67, 0.77, 0.83, 1.0)
_AGE_YEARS: Final = (0.0, 1.0, 4.0, 11.0, 16.0, 18.0, 64.0, 110.0)

# Median standing height (metres) by age, from the CDC 2000 growth charts (ages 1-20) and adult
# surveys (older ages shrink a little); a spec without a height gets this, between the two
# sexes by its gender value.
_NORM_AGES: Final = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 20, 40, 50, 60, 70, 80, 90)
_NORM_MALE: Final = (0.757, 0.87, 0.953, 1.025, 1.092, 1.155, 1.219, 1.28, 1.333, 1.384, 1.435, 1.491, 1.562, 1.638,
                     1.701, 1.734, 1.752, 1.761, 1.768, 1.76, 1.75, 1.74, 1.72, 1.7, 1.68)  # fmt: skip
_NORM_FEMALE: Final = (0.74, 0.855, 0.941, 1.016, 1.084, 1.15, 1.21, 1.272, 1.329, 1.386, 1.448, 1.515, 1.571,
                       1.604, 1.618, 1.625, 1.625, 1.63, 1.633, 1.63, 1.62, 1.6, 1.58, 1.56, 1.54)  # fmt: skip


class CharacterSpecError(ValueError):
    """A character description that cannot be generated; the message names the field and the accepted values."""


@dataclass(frozen=True)
class CharacterSpec:
    """One person to generate. ``None`` fields are drawn (``randomize``) or take the module defaults.

    ``gender`` 0 (male) .. 1 (female); ``age_years`` 1..90; ``height_m`` 0.8..2.2 (``None``: the
    population median for age and gender); ``body_type`` one of :data:`BODY_TYPES`;
    ``ethnicity`` (african, asian, caucasian) weights summing to 1; ``skin_tone`` sRGB 0..1.
    """

    gender: float | None = None
    age_years: float | None = None
    height_m: float | None = None
    body_type: str | None = None
    ethnicity: tuple[float, float, float] | None = None
    skin_tone: tuple[float, float, float] | None = None
    seed: int = 0
    randomize: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(json.dumps(asdict(self)))
        return data


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise CharacterSpecError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CharacterSpecError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise CharacterSpecError(f"{name} must be a finite number, got {value!r}")
    return number


def parse_gender(value: Any) -> float:
    """``male``/``female`` or a number 0 (male) .. 1 (female)."""
    if isinstance(value, str) and value.strip().lower() in GENDERS:
        return GENDERS[value.strip().lower()]
    try:
        number = _number(value, "gender")
    except CharacterSpecError:
        number = math.nan
    if not 0.0 <= number <= 1.0:
        raise CharacterSpecError(f"gender must be male, female or a number from 0 (male) to 1 (female), got {value!r}")
    return number


def parse_ethnicity(value: Any) -> tuple[float, float, float]:
    """``african``, ``asian``, ``caucasian``, ``mixed``, or three weights (african, asian, caucasian) summing to 1."""
    if isinstance(value, str) and value.strip().lower() in ETHNICITIES:
        return ETHNICITIES[value.strip().lower()]
    parts = value.split(",") if isinstance(value, str) else value
    try:
        weights = tuple(_number(part, "ethnicity weight") for part in parts)
    except (TypeError, CharacterSpecError):
        raise CharacterSpecError(
            f"ethnicity must be one of {', '.join(ETHNICITIES)} or three weights (african, asian, caucasian), got {value!r}"
        ) from None
    if len(weights) != 3 or min(weights) < 0 or abs(sum(weights) - 1.0) > 1e-3:
        raise CharacterSpecError(f"ethnicity weights must be three numbers >= 0 summing to 1, got {value!r}")
    return (weights[0], weights[1], weights[2])


def parse_skin_tone(value: Any) -> tuple[float, float, float]:
    """A tone name (:data:`SKIN_TONES`) or an sRGB hex colour such as ``#c68a64``."""
    if isinstance(value, str):
        name = value.strip().lower().replace("-", "_").replace(" ", "_")
        if name in SKIN_TONES:
            return SKIN_TONES[name]
        match = _HEX_COLOUR.fullmatch(value.strip())
        if match:
            digits = match.group(1)
            return (int(digits[0:2], 16) / 255, int(digits[2:4], 16) / 255, int(digits[4:6], 16) / 255)
    if isinstance(value, list | tuple) and len(value) == 3:
        colour = tuple(_number(part, "skin tone") for part in value)
        if all(0.0 <= part <= 1.0 for part in colour):
            return (colour[0], colour[1], colour[2])
    raise CharacterSpecError(f"skin tone must be one of {', '.join(SKIN_TONES)} or a hex colour like #c68a64, got {value!r}")


def character_spec(
    *,
    gender: Any = None,
    age: Any = None,
    height: Any = None,
    body_type: Any = None,
    ethnicity: Any = None,
    skin_tone: Any = None,
    seed: Any = 0,
    randomize: bool = False,
) -> CharacterSpec:
    """A validated :class:`CharacterSpec` from user values (``None`` = not given).

    Raises:
        CharacterSpecError: a value out of range or not understood; the message lists the accepted values.
    """
    age_years = None if age is None else _number(age, "age")
    if age_years is not None and not MIN_AGE_YEARS <= age_years <= MAX_AGE_YEARS:
        raise CharacterSpecError(f"age must be between {MIN_AGE_YEARS:g} and {MAX_AGE_YEARS:g} years, got {age!r}")
    height_m = None if height is None else _number(height, "height")
    if height_m is not None and not MIN_HEIGHT_M <= height_m <= MAX_HEIGHT_M:
        raise CharacterSpecError(f"height must be between {MIN_HEIGHT_M} and {MAX_HEIGHT_M} metres, got {height!r}")
    if body_type is not None and str(body_type).lower() not in BODY_TYPES:
        raise CharacterSpecError(f"unknown body type {body_type!r} (choose from {', '.join(BODY_TYPES)})")
    seed_value = _number(seed, "seed")
    if seed_value != int(seed_value) or not 0 <= seed_value < 2**31:
        raise CharacterSpecError(f"seed must be a whole number from 0 to {2**31 - 1}, got {seed!r}")
    return CharacterSpec(
        gender=None if gender is None else parse_gender(gender),
        age_years=age_years,
        height_m=height_m,
        body_type=None if body_type is None else str(body_type).lower(),
        ethnicity=None if ethnicity is None else parse_ethnicity(ethnicity),
        skin_tone=None if skin_tone is None else parse_skin_tone(skin_tone),
        seed=int(seed_value),
        randomize=bool(randomize),
    )


def spec_from_dict(data: Any) -> CharacterSpec:
    """A spec from stored or manifest data (the keys of :meth:`CharacterSpec.to_dict`), validated like user input."""
    if not isinstance(data, dict):
        raise CharacterSpecError("a character spec must be an object")
    unknown = sorted(set(data) - set(CharacterSpec.__dataclass_fields__))
    if unknown:
        raise CharacterSpecError(f"unknown character field(s) {', '.join(unknown)}")
    return character_spec(
        gender=data.get("gender"),
        age=data.get("age_years"),
        height=data.get("height_m"),
        body_type=data.get("body_type"),
        ethnicity=data.get("ethnicity"),
        skin_tone=data.get("skin_tone"),
        seed=data.get("seed", 0),
        randomize=bool(data.get("randomize", False)),
    )


def anny_age(years: float) -> float:
    """Anny's age parameter (0..1) for an age in years (its own calibration, piecewise linear)."""
    return float(np.interp(years, _AGE_YEARS, _ANNY_AGE))


def age_years_of(anny_value: float) -> float:
    """Age in years for Anny's age parameter (the inverse of :func:`anny_age`)."""
    return float(np.interp(anny_value, _ANNY_AGE, _AGE_YEARS))


def default_height_m(gender: float, years: float) -> float:
    """The population median standing height (metres) at ``years`` for ``gender`` (0 male .. 1 female)."""
    male = float(np.interp(years, _NORM_AGES, _NORM_MALE))
    female = float(np.interp(years, _NORM_AGES, _NORM_FEMALE))
    return male + (female - male) * gender


def skin_tone_for(ethnicity: tuple[float, float, float], seed: int) -> tuple[float, float, float]:
    """A skin tone for ethnicity weights: the weighted place on the light-to-dark scale, with a seeded nudge."""
    position = float(np.dot(ethnicity, _ETHNICITY_TONE_INDEX)) + float(np.random.default_rng(seed).uniform(-0.6, 0.6))
    position = min(max(position, 0.0), len(_TONE_ORDER) - 1.0)
    low = math.floor(position)
    high = min(low + 1, len(_TONE_ORDER) - 1)
    share = position - low
    light, dark = SKIN_TONES[_TONE_ORDER[low]], SKIN_TONES[_TONE_ORDER[high]]
    return (
        round(light[0] + (dark[0] - light[0]) * share, 4),
        round(light[1] + (dark[1] - light[1]) * share, 4),
        round(light[2] + (dark[2] - light[2]) * share, 4),
    )


@dataclass(frozen=True)
class AnnyRequest:
    """What the characters worker is asked for: phenotype parameters (``None`` = draw from the population),
    a target standing height (``None`` = keep the drawn one), and the seed of the draws."""

    phenotype: dict[str, float | None]
    height_m: float | None
    seed: int


def anny_request(spec: CharacterSpec) -> AnnyRequest:
    """The Anny parameters for ``spec``: given fields exactly, missing ones drawn (``randomize``) or defaulted.

    The seed makes each person an individual even when every field is given: it varies what the
    spec does not pin down (body proportions, chest, muscle and weight within the body type, and a
    median height that was not asked for, by about 2 %), so ``--count 8`` gives eight people.
    """
    drawn = spec.randomize
    rng = np.random.default_rng(spec.seed)
    jitter = rng.uniform(-_BUILD_JITTER, _BUILD_JITTER, 2)
    gender = spec.gender if spec.gender is not None else (None if drawn else DEFAULT_GENDER)
    years = spec.age_years if spec.age_years is not None else (None if drawn else DEFAULT_AGE_YEARS)
    body = BODY_TYPES[spec.body_type] if spec.body_type else (None if drawn else BODY_TYPES[DEFAULT_BODY_TYPE])
    ethnicity = spec.ethnicity or (None if drawn else ETHNICITIES[DEFAULT_ETHNICITY])
    individual = rng.uniform(_INDIVIDUAL_RANGE[0], _INDIVIDUAL_RANGE[1], 3)
    phenotype: dict[str, float | None] = {
        "gender": gender,
        "age": None if years is None else round(anny_age(years), 5),
        "muscle": None if body is None else round(float(np.clip(body.muscle + jitter[0], 0.0, 1.0)), 4),
        "weight": None if body is None else round(float(np.clip(body.weight + jitter[1], 0.0, 1.0)), 4),
        "proportions": None if drawn else round(float(individual[0]), 4),
        "cupsize": None if drawn else round(float(individual[1]), 4),
        "firmness": None if drawn else round(float(individual[2]), 4),
    }
    for name, weight in zip(("african", "asian", "caucasian"), ethnicity or (None, None, None), strict=True):
        phenotype[name] = weight
    if spec.height_m is not None:
        height: float | None = spec.height_m
    elif gender is not None and years is not None:
        spread = float(np.clip(rng.normal(0.0, _HEIGHT_SPREAD), -2.5 * _HEIGHT_SPREAD, 2.5 * _HEIGHT_SPREAD))
        height = round(default_height_m(gender, years) * (1.0 + spread), 4)
    else:
        height = None
    return AnnyRequest(phenotype, height, spec.seed)


def character_slug(spec: CharacterSpec, index: int = 0) -> str:
    """A file name from the spec and a short hash of it, never from raw user text: ``female_34y_heavy_1m68_a1b2c3``."""
    gender = (
        "person" if spec.gender is None else ("male" if spec.gender < 0.25 else "female" if spec.gender > 0.75 else "androgynous")
    )
    parts = [gender]
    if spec.age_years is not None:
        parts.append(f"{spec.age_years:g}y")
    if spec.body_type:
        parts.append(spec.body_type)
    if spec.height_m is not None:
        metres, centimetres = divmod(round(spec.height_m * 100), 100)
        parts.append(f"{metres}m{centimetres:02d}")
    digest = hashlib.sha256(json.dumps([spec.to_dict(), index], sort_keys=True).encode()).hexdigest()[:6]
    return safe_slug("_".join([*parts, digest]))


def people(spec: CharacterSpec, count: int) -> list[CharacterSpec]:
    """``count`` people from one spec: person ``i`` has seed ``spec.seed + i`` (the same person for the same seed)."""
    if not 1 <= count <= MAX_PEOPLE_PER_RUN:
        raise CharacterSpecError(f"count must be between 1 and {MAX_PEOPLE_PER_RUN}, got {count}")
    return [replace(spec, seed=spec.seed + index) for index in range(count)]


# describe(): words -> spec fields.
_AGE_WORDS: Final = {
    "baby": 1.5, "infant": 1.5, "toddler": 2.5, "kid": 8.0, "child": 8.0, "boy": 9.0, "girl": 9.0,
    "teen": 15.0, "teenager": 15.0, "teenage": 15.0, "adolescent": 14.0, "young": 24.0,
    "middle-aged": 48.0, "elderly": 75.0, "old": 72.0, "senior": 72.0,
    "man": 35.0, "woman": 35.0, "adult": 35.0, "guy": 30.0, "lady": 40.0,
}  # fmt: skip
_GENERIC_AGE_WORDS: Final = frozenset({"man", "woman", "adult", "guy", "lady"})  # a more specific age word wins
_GENDER_WORDS: Final = {
    "man": 0.0, "men": 0.0, "male": 0.0, "boy": 0.0, "guy": 0.0, "gentleman": 0.0,
    "woman": 1.0, "women": 1.0, "female": 1.0, "girl": 1.0, "lady": 1.0,
}  # fmt: skip
_BUILD_WORDS: Final = {
    "slim": "slim", "thin": "slim", "skinny": "slim", "slender": "slim", "lean": "slim", "petite": "slim",
    "average": "average", "normal": "average", "medium": "average",
    "athletic": "athletic", "fit": "athletic", "sporty": "athletic",
    "heavy": "heavy", "overweight": "heavy", "stocky": "heavy", "large": "heavy", "plump": "heavy", "chubby": "heavy",
    "muscular": "muscular", "strong": "muscular", "bodybuilder": "muscular", "brawny": "muscular",
}  # fmt: skip
_ETHNICITY_WORDS: Final = {
    "african": "african", "black": "african", "asian": "asian", "east-asian": "asian",
    "caucasian": "caucasian", "white": "caucasian", "european": "caucasian", "mixed": "mixed", "multiracial": "mixed",
}  # fmt: skip
_HEIGHT_WORDS: Final = {"tall": 0.08, "very-tall": 0.15, "short": -0.08, "very-short": -0.15, "petite": -0.06}
_SKIN_WORDS: Final = {
    "pale": "very_light", "pale-skinned": "very_light", "fair": "light", "fair-skinned": "light", "light-skinned": "light",
    "tanned": "olive", "olive-skinned": "olive", "brown-skinned": "brown", "dark-skinned": "dark",
}  # fmt: skip
_FILLER: Final = frozenset({"a", "an", "the", "with", "and", "of", "build", "body", "bodied", "type", "person", "who", "is",
                            "looking", "in", "their", "s", "skin", "skinned", "years", "year", "aged"})  # fmt: skip
_YEARS = re.compile(r"^(\d{1,2})(?:-?(?:y|yr|yrs|year|years)(?:-old)?)?$")
_METRES = re.compile(r"^(\d(?:\.\d+)?)m$")
_CENTIMETRES = re.compile(r"^(\d{2,3})cm$")


def _words(text: str) -> list[str]:
    """Lower-case ASCII words, with multi-word phrases (very tall, 34 years old, 180 cm) joined by hyphens."""
    normalised = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    normalised = re.sub(r"\bvery\s+(tall|short)\b", r"very-\1", normalised)
    normalised = re.sub(r"\bmiddle[\s-]+aged\b", "middle-aged", normalised)
    normalised = re.sub(r"\b(\d{1,2})[\s-]*(?:years?|yrs?)[\s-]*old\b", r"\1-years-old", normalised)
    normalised = re.sub(r"\b(dark|light|fair|pale|brown|olive)[\s-]+skin(?:ned)?\b", r"\1-skinned", normalised)
    normalised = re.sub(r"(\d)\s+(cm|m)\b", r"\1\2", normalised)
    return [word.strip(".!?()\"'") for word in re.split(r"[\s,;/]+", normalised) if word.strip(".!?()\"'")]


def describe(text: str, seed: int = 0) -> tuple[CharacterSpec, list[str]]:
    """Parse a short description into a spec; returns the spec and the words it did not understand.

    Understands gender words (man, woman, boy, girl, ...), ages (``34``, ``34-year-old``,
    baby, child, teen, young, middle-aged, elderly, ...), heights (``1.8m``, ``180cm``, tall,
    short), builds (slim, athletic, heavy, muscular and synonyms), ethnicity words and a few
    skin words. ``tall``/``short`` move the population median height for the age and gender.
    An age in years beats an age word, and a specific age word beats ``man``/``woman``.

    Raises:
        CharacterSpecError: nothing in the text describes a person.
    """
    fields: dict[str, Any] = {}
    age_priority = -1
    height_shift = 0.0
    ignored: list[str] = []
    for word in _words(text):
        known = word in _FILLER
        if word in _GENDER_WORDS:
            fields.setdefault("gender", _GENDER_WORDS[word])
            known = True
        priority, age = next(
            ((2, float(match.group(1))) for match in [_YEARS.fullmatch(word)] if match),
            (0 if word in _GENERIC_AGE_WORDS else 1, _AGE_WORDS[word]) if word in _AGE_WORDS else (-1, 0.0),
        )
        if priority >= 0:
            if priority > age_priority:
                fields["age"], age_priority = age, priority
            known = True
        metres, centimetres = _METRES.fullmatch(word), _CENTIMETRES.fullmatch(word)
        if metres or centimetres:
            fields["height"] = float(metres.group(1)) if metres else float(centimetres.group(1)) / 100  # type: ignore[union-attr]
            known = True
        for table, field in ((_BUILD_WORDS, "body_type"), (_ETHNICITY_WORDS, "ethnicity"), (_SKIN_WORDS, "skin_tone")):
            if word in table:
                fields[field] = table[word]
                known = True
        if word in _HEIGHT_WORDS:
            height_shift += _HEIGHT_WORDS[word]
            known = True
        if not known:
            ignored.append(word)
    if not fields and not height_shift:
        raise CharacterSpecError(f"nothing in {text!r} describes a person (try e.g. 'tall elderly woman, heavy build')")
    if height_shift and "height" not in fields:
        median = default_height_m(fields.get("gender", DEFAULT_GENDER), fields.get("age", DEFAULT_AGE_YEARS))
        fields["height"] = round(min(max(median * (1.0 + height_shift), MIN_HEIGHT_M), MAX_HEIGHT_M), 3)
    return character_spec(seed=seed, **fields), ignored


def spec_summary(spec: CharacterSpec) -> str:
    """One line saying what a spec asks for (printed by ``characters generate --describe``)."""
    gender = (
        "drawn"
        if spec.gender is None
        else next((name for name, value in GENDERS.items() if value == spec.gender), f"{spec.gender:g}")
    )
    age = "drawn" if spec.age_years is None else f"{spec.age_years:g} years"
    height = "population median" if spec.height_m is None else f"{spec.height_m:.2f} m"
    ethnicity = (
        "default"
        if spec.ethnicity is None
        else next(
            (name for name, weights in ETHNICITIES.items() if np.allclose(weights, spec.ethnicity)),
            ", ".join(f"{w:.2f}" for w in spec.ethnicity),
        )
    )
    tone = "from ethnicity" if spec.skin_tone is None else "#" + "".join(f"{round(c * 255):02x}" for c in spec.skin_tone)
    return (
        f"gender {gender}, age {age}, height {height}, body type {spec.body_type or 'default'}, "
        f"ethnicity {ethnicity}, skin tone {tone}, seed {spec.seed}{', randomized' if spec.randomize else ''}"
    )


def spec_from_options(description: str | None = None, **given: Any) -> tuple[CharacterSpec, list[str]]:
    """A spec from explicit field values (``None`` = not given) over an optional :func:`describe` text.

    Explicit values win over the description (``--describe "tall man" --age 70``); returns the
    spec and the description's words that were not understood.

    Raises:
        CharacterSpecError: a value is invalid, or the description describes no one.
    """
    ignored: list[str] = []
    fields: dict[str, Any] = {}
    if description:
        described, ignored = describe(description)
        fields = {
            "gender": described.gender,
            "age": described.age_years,
            "height": described.height_m,
            "body_type": described.body_type,
            "ethnicity": described.ethnicity,
            "skin_tone": described.skin_tone,
        }
    fields.update({key: value for key, value in given.items() if value is not None})
    return character_spec(**fields), ignored
