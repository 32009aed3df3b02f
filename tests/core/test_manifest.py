"""Job manifests: JSON round trips and every rejection."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from pose_factory_addon.core.errors import ManifestError
from pose_factory_addon.core.manifest import (
    CharacterParams,
    CharacterRef,
    RenderParams,
    manifest_from_dict,
    manifest_from_json,
    new_job_id,
    new_render_manifest,
    validate_job_id,
)

SHA = "ab" * 32


def _valid() -> dict[str, Any]:
    return {
        "manifest_version": 1,
        "job_id": "render_20261130_153000_0123abcd",
        "job_type": "render",
        "created_at": "2026-11-30T15:30:00Z",
        "status": "pending",
        "params": {
            "characters": [{"name": "X_Bot", "sha256": SHA, "ext": "fbx"}],
            "angles": 8,
            "elevations": [0.0, 30.0],
            "frames": "count:3",
            "preset": "standard",
            "resolution": [512, 384],
            "labels": ["mediapipe33", "coco17"],
            "framing": "auto",
            "seed": 7,
            "output_name": "my_dataset",
        },
    }


def test_round_trip() -> None:
    manifest = manifest_from_dict(_valid())
    assert manifest.params == RenderParams(
        characters=(CharacterRef("X_Bot", SHA, "fbx"),),
        elevations=(0.0, 30.0),
        frames="count:3",
        resolution=(512, 384),
        seed=7,
        output_name="my_dataset",
    )
    again = manifest_from_json(manifest.to_json())
    assert again == manifest
    assert json.loads(again.to_json()) == json.loads(manifest.to_json())
    assert manifest.params.characters[0].asset_key == f"assets/characters/{SHA}.fbx"


def _character_manifest(params: dict) -> dict:
    return {
        "job_id": "character_20261130_153000_0123abcd",
        "job_type": "character",
        "created_at": "2026-11-30T15:30:00+00:00",
        "params": params,
    }


def test_character_job_round_trip() -> None:
    data = _character_manifest(
        {
            "character_params": {"gender": "female", "age": 35, "body_type": "athletic", "ethnicity": "asian", "height": 1.7},
            "count": 3,
            "seed": 7,
            "formats": ["glb"],
            "then_render": {"angles": 4, "frames": "count:2", "preset": "preview", "resolution": [128, 128]},
        }
    )
    manifest = manifest_from_dict(data)
    assert manifest_from_json(manifest.to_json()) == manifest
    params = manifest.params
    assert isinstance(params, CharacterParams)
    assert params.spec.gender == 1.0 and params.spec.age_years == 35 and params.spec.ethnicity == (0.0, 1.0, 0.0)
    assert params.count == 3 and params.seed == 7 and params.formats == ("glb",)
    assert params.then_render is not None and params.then_render.angles == 4 and params.then_render.characters == ()
    minimal = manifest_from_dict(_character_manifest({"character_params": {"gender": "male"}}))
    assert isinstance(minimal.params, CharacterParams) and minimal.params.count == 1 and minimal.params.then_render is None


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"character_params": {"age": 200}}, "age must be between 1 and 90"),
        ({"character_params": {"body_type": "giant"}}, "unknown body type"),
        ({"character_params": {"gender": "robot"}}, "gender must be"),
        ({"character_params": {"ethnicity": [0.5, 0.5]}}, "ethnicity"),
        ({"character_params": {"height": "../x"}}, "height must be a number"),
        ({"character_params": {"name": "x"}}, "unknown field"),
        ({"count": 0}, "params.count must be between 1"),
        ({"formats": ["obj"]}, "params.formats"),
        ({"then_render": {"characters": []}}, "unknown field"),
        ({"then_render": {"angles": 500}}, "params.angles must be between"),
        ({"then_render": {"script": "x.py"}}, "may not name code"),
    ],
)
def test_character_job_params_are_validated(params: dict, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        manifest_from_dict(_character_manifest(params))


def test_new_render_manifest_is_valid() -> None:
    params = RenderParams(characters=(CharacterRef("A", SHA, "glb"),))
    manifest = new_render_manifest(params, now=datetime(2026, 11, 30, 15, 30, tzinfo=UTC))
    assert manifest.job_id.startswith("render_20261130_153000_")
    assert manifest.created_at == "2026-11-30T15:30:00Z"
    assert validate_job_id(new_job_id("character")).startswith("character_")


@pytest.mark.parametrize(
    "job_id",
    [
        "../../x",
        "render_20261130_153000_0123ABCD",
        "render_20261130_153000_0123abc",
        "render_20261332_153000_0123abcd",
        "render_20261130_256000_0123abcd",
        "deploy_20261130_153000_0123abcd",
        "render_20261130_153000_0123abcd/../x",
        "render_20261130_153000_0123abcd\n",
        "",
    ],
)
def test_bad_job_ids_rejected(job_id: str) -> None:
    with pytest.raises(ManifestError, match="job id"):
        validate_job_id(job_id)


def _with(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(_valid())
    target = data
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        ("params.script", "scripts/render.py", "may not name code"),
        ("script", "x.py", "may not name code"),
        ("params.characters.0.command", "rm -rf /", "may not name code"),
        ("job_type", "shell", "unknown job_type"),
        ("job_type", "character", "does not match job_type"),
        ("job_id", "../../x", "invalid job id"),
        ("status", "done", "status"),
        ("created_at", "yesterday", "ISO-8601"),
        ("created_at", "2026-11-30T15:30:00", "time zone"),
        ("manifest_version", 2, "not supported"),
        ("extra", 1, "unknown field"),
        ("params.characters", [], "non-empty list"),
        ("params.characters.0.name", "../../etc/passwd", "not a safe name"),
        ("params.characters.0.name", "a/b", "not a safe name"),
        ("params.characters.0.sha256", "xyz", "64 lowercase hex"),
        ("params.characters.0.ext", "py", "not supported"),
        ("params.characters.0.path", "/tmp/x.fbx", "unknown field"),
        ("params.angles", 0, "between 1 and 72"),
        ("params.angles", 73, "between 1 and 72"),
        ("params.angles", 8.5, "whole number"),
        ("params.angles", True, "whole number"),
        ("params.elevations", [95.0], "outside"),
        ("params.elevations", [], "list of 1"),
        ("params.frames", "every:0", "params.frames"),
        ("params.frames", "1;rm", "params.frames"),
        ("params.preset", "ultra", "preset"),
        ("params.resolution", [63, 512], "between 64 and 4096"),
        ("params.resolution", [512, 4097], "between 64 and 4096"),
        ("params.resolution", [512], "width, height"),
        ("params.labels", ["openpose"], "labels"),
        ("params.framing", "closeup", "framing"),
        ("params.output_name", "../out", "not a safe name"),
        ("params.output_dir", "/tmp", "unknown field"),
        ("params", _DELETE, "params must be an object"),
    ],
)
def test_rejections(path: str, value: Any, match: str) -> None:
    with pytest.raises(ManifestError, match=match):
        manifest_from_dict(_with(path, value))


def test_duplicate_character_names_rejected() -> None:
    data = _valid()
    data["params"]["characters"].append(dict(data["params"]["characters"][0]))
    with pytest.raises(ManifestError, match="unique"):
        manifest_from_dict(data)


@pytest.mark.parametrize("text", ["", "{", "[]", "null", b"\xff\xfe"])
def test_not_json_or_not_object(text: str | bytes) -> None:
    with pytest.raises(ManifestError):
        manifest_from_json(text)


def test_scene_variety_and_passes_round_trip() -> None:
    data = _valid()
    data["params"].update(randomize="full", passes=["depth", "mask", "parts", "mask"], ground=True)
    manifest = manifest_from_dict(data)
    assert isinstance(manifest.params, RenderParams)
    assert (manifest.params.randomize, manifest.params.passes, manifest.params.ground) == (
        "full",
        ("depth", "mask", "parts"),
        True,
    )
    assert manifest_from_json(manifest.to_json()) == manifest


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("randomize", "extreme", "randomize 'extreme' is unknown"),
        ("randomize", ["full"], "is unknown"),
        ("passes", ["normals"], "passes must be a list from depth, mask, parts"),
        ("passes", "depth", "passes must be a list"),
        ("ground", "yes", "ground must be true or false"),
    ],
)
def test_bad_scene_options_are_refused(field: str, value: Any, message: str) -> None:
    data = _valid()
    data["params"][field] = value
    with pytest.raises(ManifestError, match=message):
        manifest_from_dict(data)


@pytest.mark.parametrize("preset", ["preview", "seed"])
def test_parts_need_cycles(preset: str) -> None:
    data = _valid()
    data["params"].update(preset=preset, passes=["parts"])
    with pytest.raises(ManifestError, match=f"parts needs Cycles, which the {preset} preset"):
        manifest_from_dict(data)
