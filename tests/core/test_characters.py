"""Character specs (no Anny, no Blender): validation, the description parser, Anny's age scale, heights, names."""

from __future__ import annotations

import json

import pytest

from pose_factory_addon.core import characters
from pose_factory_addon.core.characters import (
    CharacterSpecError,
    anny_age,
    anny_request,
    character_slug,
    character_spec,
    default_height_m,
    describe,
    people,
    skin_tone_for,
    spec_from_dict,
    spec_from_options,
)
from pose_factory_addon.core.generation import GENERATOR, LANDMARK_BASE_VERTICES, body_requests, generated_landmarks


def test_a_full_spec_is_validated_and_normalised() -> None:
    spec = character_spec(gender="Female", age=34, height=1.68, body_type="Heavy", ethnicity="asian", skin_tone="#c68a64", seed=5)
    assert (spec.gender, spec.age_years, spec.height_m, spec.body_type) == (1.0, 34.0, 1.68, "heavy")
    assert spec.ethnicity == (0.0, 1.0, 0.0) and spec.skin_tone == pytest.approx((198 / 255, 138 / 255, 100 / 255))
    assert character_spec(ethnicity="0.2,0.3,0.5").ethnicity == (0.2, 0.3, 0.5)
    assert character_spec(gender=0.3, skin_tone="dark").gender == 0.3
    assert spec_from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("age", 0.5, "age must be between 1 and 90"),
        ("age", 95, "age must be between 1 and 90"),
        ("age", "old", "age must be a number"),
        ("height", 2.5, "height must be between 0.8 and 2.2"),
        ("height", float("nan"), "finite"),
        ("gender", "robot", "gender must be male, female"),
        ("gender", 1.5, "gender must be male, female"),
        ("body_type", "giant", "unknown body type 'giant' \\(choose from slim, average, athletic, heavy, muscular\\)"),
        ("ethnicity", "martian", "ethnicity must be one of african"),
        ("ethnicity", [0.5, 0.6, 0.1], "summing to 1"),
        ("skin_tone", "green", "skin tone must be one of"),
        ("seed", -1, "seed must be a whole number"),
        ("seed", True, "seed must be a number"),
    ],
)
def test_bad_values_are_refused_with_the_accepted_ones(field: str, value: object, message: str) -> None:
    with pytest.raises(CharacterSpecError, match=message):
        character_spec(**{field: value})


def test_anny_age_follows_annys_calibration() -> None:
    assert anny_age(1) == pytest.approx(0.05) and anny_age(11) == pytest.approx(0.415) and anny_age(18) == pytest.approx(0.77)
    assert anny_age(64) == pytest.approx(0.83) and anny_age(90) == pytest.approx(0.83 + 0.17 * 26 / 46)
    assert anny_age(6) < anny_age(30) < anny_age(75)


def test_default_heights_follow_population_norms() -> None:
    assert default_height_m(0.0, 30) == pytest.approx(1.76, abs=0.01)
    assert default_height_m(1.0, 30) == pytest.approx(1.63, abs=0.01)
    assert default_height_m(0.5, 30) == pytest.approx((default_height_m(0, 30) + default_height_m(1, 30)) / 2)
    assert default_height_m(0.0, 6) == pytest.approx(1.155, abs=0.01)
    assert default_height_m(0.0, 6) < default_height_m(0.0, 12) < default_height_m(0.0, 20)
    assert default_height_m(1.0, 85) < default_height_m(1.0, 40)


def test_requests_keep_given_fields_and_vary_the_rest_by_seed() -> None:
    spec = character_spec(gender="female", age=30, body_type="slim", ethnicity="african", height=1.7)
    first, second = anny_request(spec), anny_request(people(spec, 2)[1])
    assert first.height_m == second.height_m == 1.7 and first.phenotype["gender"] == 1.0
    assert first.phenotype["african"] == 1.0 and first.phenotype["age"] == pytest.approx(anny_age(30), abs=1e-4)
    assert abs(first.phenotype["weight"] - characters.BODY_TYPES["slim"].weight) <= characters._BUILD_JITTER
    assert first.phenotype["proportions"] != second.phenotype["proportions"], "another seed, another individual"
    assert anny_request(spec) == first, "the same seed, the same person"
    median = anny_request(character_spec(gender="male", age=30)).height_m
    assert median == pytest.approx(default_height_m(0.0, 30), rel=0.05)


def test_randomize_leaves_missing_fields_to_annys_population() -> None:
    request = anny_request(character_spec(gender="male", randomize=True))
    assert request.phenotype["gender"] == 0.0 and request.phenotype["age"] is None and request.phenotype["weight"] is None
    assert request.height_m is None, "no median without an age: the drawn height stands"
    assert anny_request(character_spec(randomize=True, height=1.8)).height_m == 1.8


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tall elderly woman, heavy build", {"gender": 1.0, "age_years": 75.0, "body_type": "heavy"}),
        ("34-year-old asian man, athletic", {"gender": 0.0, "age_years": 34.0, "body_type": "athletic"}),
        ("a 6 year old girl", {"gender": 1.0, "age_years": 6.0}),
        ("muscular black man 1.9 m", {"gender": 0.0, "height_m": 1.9, "body_type": "muscular"}),
        ("slim woman 165 cm, pale skin", {"gender": 1.0, "height_m": 1.65, "skin_tone": characters.SKIN_TONES["very_light"]}),
        ("Élégant middle-aged man", {"gender": 0.0, "age_years": 48.0}),
    ],
)
def test_describe_understands_common_descriptions(text: str, expected: dict) -> None:
    spec, ignored = describe(text)
    for key, value in expected.items():
        assert getattr(spec, key) == value, key
    assert ignored in ([], ["elegant"])


def test_describe_moves_the_median_height_and_reports_unknown_words() -> None:
    tall, _ = describe("tall woman")
    assert tall.height_m == pytest.approx(default_height_m(1.0, 35.0) * 1.08, abs=0.002)
    _, ignored = describe("short man with a purple hat")
    assert ignored == ["purple", "hat"]
    with pytest.raises(CharacterSpecError, match="nothing in 'purple elephant' describes a person"):
        describe("purple elephant")


def test_explicit_options_win_over_the_description() -> None:
    spec, _ = spec_from_options("tall elderly woman, heavy build", age=40, body_type="slim")
    assert (spec.gender, spec.age_years, spec.body_type) == (1.0, 40.0, "slim") and spec.height_m is not None


def test_names_are_slugs_from_the_spec_never_from_typed_text() -> None:
    spec, _ = describe("../../etc woman 30")
    name = character_slug(spec)
    assert name.startswith("female_30y_") and "/" not in name and "." not in name
    assert character_slug(spec, 0) != character_slug(spec, 1)
    assert [request["name"] for request in body_requests(people(spec, 2))] != [character_slug(spec)] * 2


def test_skin_tone_follows_ethnicity() -> None:
    dark, light = skin_tone_for((1.0, 0.0, 0.0), 0), skin_tone_for((0.0, 0.0, 1.0), 0)
    assert sum(dark) < sum(light)
    assert all(0.0 <= channel <= 1.0 for channel in dark + light)


def test_generated_landmarks_are_read_only_from_a_well_formed_record() -> None:
    record = {"generator": GENERATOR, "landmarks_m": {"nose": [0.0, -0.1, 1.6], "left_heel": [0.1, 0.05, 0.0]}}
    assert generated_landmarks(json.dumps(record)) == {"nose": (0.0, -0.1, 1.6), "left_heel": (0.1, 0.05, 0.0)}
    for broken in (
        None,
        "not json",
        json.dumps({**record, "generator": "someone else"}),
        json.dumps({**record, "landmarks_m": {"left_knee": [0, 0, 0]}}),
        json.dumps({**record, "landmarks_m": {"nose": [0, 0]}}),
        json.dumps({**record, "landmarks_m": {"nose": ["x", 0, 0]}}),
        json.dumps({**record, "landmarks_m": {"nose": [float("inf"), 0, 0]}}).replace("Infinity", "1e999"),
    ):
        assert generated_landmarks(broken) is None, broken
    assert {"nose", "left_eye", "mouth_right", "left_heel", "right_foot_index"} <= set(LANDMARK_BASE_VERTICES)
