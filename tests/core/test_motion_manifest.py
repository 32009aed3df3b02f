"""Motions as job data (no Blender): manifest fields, ``--motion``/``--mirror`` options, BVH assets, ``motions list``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from pose_factory_addon.cli import main
from pose_factory_addon.commands.render_options import add_render_options, motion_files, render_params_from_args
from pose_factory_addon.core.errors import ManifestError, UsageError
from pose_factory_addon.core.manifest import CharacterRef, MotionRef, RenderParams, manifest_from_dict, new_render_manifest
from pose_factory_addon.core.motion import library_names
from pose_factory_addon.core.queue import JobQueue, PermanentJobError, fetch_motion
from pose_factory_addon.core.store import LocalStore

SHA = "ab" * 32
CHARACTER = {"name": "hero", "sha256": "cd" * 32, "ext": "glb"}


def _manifest(**params: object) -> dict:
    return {
        "job_id": "render_20250101_120000_0123abcd",
        "job_type": "render",
        "created_at": "2025-01-01T12:00:00Z",
        "params": {"characters": [CHARACTER], **params},
    }


def _params(**params: object) -> RenderParams:
    parsed = manifest_from_dict(_manifest(**params)).params
    assert isinstance(parsed, RenderParams)
    return parsed


def test_library_names_and_bvh_assets_round_trip_through_a_manifest() -> None:
    params = _params(motions=["walk", {"name": "my_clip", "sha256": SHA, "ext": "bvh"}], mirror=True)
    assert params.motions == (MotionRef("walk"), MotionRef("my_clip", SHA, "bvh"))
    assert params.motions[1].asset_key == f"assets/motions/{SHA}.bvh" and params.motions[0].is_library
    assert params.animation_names() == ["walk", "walk_mirrored", "my_clip", "my_clip_mirrored"]
    stored = new_render_manifest(params).to_dict()["params"]
    assert stored["motions"] == ["walk", {"name": "my_clip", "sha256": SHA, "ext": "bvh"}] and stored["mirror"] is True
    assert _params().motions == () and _params().animations_per_character() == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"motions": ["moonwalk"]}, "unknown motion 'moonwalk'"),
        ({"motions": ["/workspace/clip.bvh"]}, "unknown motion"),
        ({"motions": [{"name": "x", "sha256": "nothex", "ext": "bvh"}]}, "sha256"),
        ({"motions": [{"name": "x", "sha256": SHA, "ext": "fbx"}]}, "ext 'fbx'"),
        ({"motions": [{"name": "../x", "sha256": SHA, "ext": "bvh"}]}, "not a safe name"),
        ({"motions": [{"name": "x", "sha256": SHA, "ext": "bvh", "path": "/tmp/x.bvh"}]}, "unknown field"),
        ({"motions": ["walk", "walk"]}, "unique"),
        ({"motions": ["walk", {"name": "walk_mirrored", "sha256": SHA, "ext": "bvh"}], "mirror": True}, "clash"),
        ({"motions": "walk"}, "must be a list"),
        ({"mirror": True}, "needs motions"),
        ({"motions": ["walk"], "mirror": "yes"}, "true or false"),
        ({"motions": ["walk"] * 65}, "at most 64"),
    ],
)
def test_bad_motion_fields_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        _params(**fields)


def _options(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_render_options(parser)
    return parser.parse_args(list(argv))


def test_the_motion_option_takes_names_files_and_all(tmp_path: Path) -> None:
    character = tmp_path / "hero.glb"
    character.write_bytes(b"glb")
    clip = tmp_path / "My Clip.bvh"
    clip.write_text("HIERARCHY\n")
    params = render_params_from_args(_options("--motion", f"jump, {clip}", "--mirror"), {"hero": character})
    assert [motion.name for motion in params.motions] == ["jump", "My_Clip"] and params.mirror
    assert params.motions[1].ext == "bvh" and len(params.motions[1].sha256) == 64
    assert motion_files(f"jump,{clip}") == {"jump": None, "My_Clip": clip}
    every = render_params_from_args(_options("--motion", "all"), {"hero": character})
    assert tuple(motion.name for motion in every.motions) == library_names()
    assert render_params_from_args(_options(), {"hero": character}).motions == ()
    assert params.estimated_images() == 4 * render_params_from_args(_options(), {"hero": character}).estimated_images()
    with pytest.raises(UsageError, match=r"--motions\[0\]: unknown motion 'moon'"):
        render_params_from_args(_options("--motion", "moon"), {"hero": character})
    with pytest.raises(UsageError, match="no such file"):
        motion_files(str(tmp_path / "missing.bvh"))
    with pytest.raises(UsageError, match="needs motions"):
        render_params_from_args(_options("--mirror"), {"hero": character})


def test_bvh_assets_are_uploaded_once_and_fetched_verified(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    queue = JobQueue(store)
    clip = tmp_path / "clip.bvh"
    clip.write_text("HIERARCHY\nROOT Hips\n")
    ref = queue.upload_motion(clip)
    assert store.exists(ref.asset_key) and ref.name == "clip"
    cache = tmp_path / "cache"
    cache.mkdir()
    fetched = fetch_motion(store, ref, cache)
    assert fetched.read_text() == clip.read_text() and fetched.name == f"{ref.sha256}.bvh"
    with pytest.raises(PermanentJobError, match=r"motion other: asset .* is missing"):
        fetch_motion(store, MotionRef("other", SHA, "bvh"), cache)


def test_the_agent_fetches_bvh_motions_beside_the_characters(tmp_path: Path) -> None:
    from pose_factory_addon.agent import fetch_assets

    store = LocalStore(tmp_path / "store")
    queue = JobQueue(store)
    character, clip = tmp_path / "hero.glb", tmp_path / "clip.bvh"
    character.write_bytes(b"glb")
    clip.write_text("HIERARCHY\n")
    hero, motion = queue.upload_character(character), queue.upload_motion(clip)
    params = RenderParams(characters=(CharacterRef("hero", hero.sha256, "glb"),), motions=(MotionRef("walk"), motion))
    files = fetch_assets(store, new_render_manifest(params), tmp_path / "workspace")
    assert set(files) == {"hero", motion.asset_key}
    assert files[motion.asset_key].read_text() == "HIERARCHY\n"


def test_motions_list_prints_every_clip(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["motions", "list"]) == 0
    text = capsys.readouterr().out
    for name in library_names():
        assert f"\n{name} " in text
    assert "1.27 s    39" in text, "walk: duration and frame count"
    assert main(["motions", "list", "--json"]) == 0
    clips = json.loads(capsys.readouterr().out)
    assert [clip["name"] for clip in clips] == list(library_names()) and clips[0]["frames"] == 39
