"""Generated people for real: the Anny worker (its own venv), Blender rigging and export, the renderer, the CLI and agents.

Needs ``make characters-setup`` (these tests skip without it, except in CI, which must have it).
One worker run makes the 12-person grid; two people go through Blender; the agent tests run a
real ``pose-factory agent`` process on a local store and on SeaweedFS.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from agent_processes import environment, open_queue

bpy = pytest.importorskip("bpy")

from pose_factory_addon.core.camera import project_points  # noqa: E402
from pose_factory_addon.core.characters import anny_request, character_spec  # noqa: E402
from pose_factory_addon.core.generation import generate_bodies  # noqa: E402
from pose_factory_addon.core.manifest import CharacterParams, JobManifest, manifest_from_dict, new_job_id  # noqa: E402
from pose_factory_addon.core.queue import character_ref_for  # noqa: E402
from pose_factory_addon.core.skeletons import MEDIAPIPE33_NAMES, missing_mixamo_bones  # noqa: E402
from pose_factory_addon.render.characters import generate_characters  # noqa: E402
from pose_factory_addon.render.importer import import_character  # noqa: E402
from pose_factory_addon.render.meshes import evaluated_world_vertices  # noqa: E402
from pose_factory_addon.render.pipeline import render_dataset  # noqa: E402

pytestmark = pytest.mark.bpy

GRID = [(age, gender, body) for age in (6, 35, 75) for gender in ("male", "female") for body in ("slim", "heavy")]


@pytest.fixture(scope="module")
def grid(characters_python: Path, tmp_path_factory: pytest.TempPathFactory):
    specs = [character_spec(gender=gender, age=age, body_type=body, seed=index) for index, (age, gender, body) in enumerate(GRID)]
    return specs, generate_bodies(specs, tmp_path_factory.mktemp("grid"), python=str(characters_python))


@pytest.fixture(scope="module")
def people(characters_python: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    folder = tmp_path_factory.mktemp("people")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    specs = [
        character_spec(gender="female", age=30, body_type="athletic", ethnicity="african", seed=3),
        character_spec(gender="male", age=8, ethnicity="asian", seed=4),
    ]
    records, errors = generate_characters(specs, folder, python=str(characters_python))
    assert errors == []
    return folder, records


def test_measured_heights_match_the_request(grid):
    specs, run = grid
    assert run.anny_version == "0.6.2"
    for spec, body in zip(specs, run.bodies, strict=True):
        assert body.error == "" and body.npz is not None and body.npz.is_file()
        requested = anny_request(spec).height_m
        assert abs(body.height_m - requested) <= 0.02, (spec, body.height_m, requested)


def test_children_are_shorter_than_adults_and_the_elderly_shrink(grid):
    specs, run = grid
    height = {(spec.age_years, spec.gender, spec.body_type): body.height_m for spec, body in zip(specs, run.bodies, strict=True)}
    for gender in (0.0, 1.0):
        for body in ("slim", "heavy"):
            assert height[(6.0, gender, body)] < height[(35.0, gender, body)] - 0.4
            assert height[(75.0, gender, body)] < height[(35.0, gender, body)] + 0.02


def test_heavy_has_a_larger_waist_than_slim_at_the_same_height(characters_python, tmp_path):
    specs = [
        character_spec(gender=gender, age=40, body_type=body, height=1.7)
        for gender in ("male", "female")
        for body in ("slim", "heavy")
    ]
    bodies = generate_bodies(specs, tmp_path, python=str(characters_python)).bodies
    for slim, heavy in ((bodies[0], bodies[1]), (bodies[2], bodies[3])):
        assert abs(slim.height_m - 1.7) <= 0.02 and abs(heavy.height_m - 1.7) <= 0.02
        assert heavy.waist_m > slim.waist_m + 0.1, (slim.waist_m, heavy.waist_m)


def test_an_impossible_height_is_reported_and_the_others_are_made(characters_python, tmp_path):
    bodies = generate_bodies(
        [character_spec(age=5, height=2.1), character_spec(age=30)], tmp_path, python=str(characters_python)
    ).bodies
    assert "2.10 m is outside what this body can reach" in bodies[0].error and bodies[0].npz is None
    assert bodies[1].error == "" and bodies[1].npz is not None


@pytest.mark.parametrize("extension", ["fbx", "glb"])
def test_files_import_back_with_every_bone_standing_on_the_ground(people, extension):
    folder, records = people
    for record in records:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        character = import_character(folder / f"{record['name']}.{extension}", record["name"])
        names = sorted(bone.name for bone in character.armature.data.bones)
        assert len(names) == 52 and all(name.startswith("mixamorig:") for name in names)
        assert missing_mixamo_bones(names) == []
        vertices = evaluated_world_vertices(character.meshes, bpy.context.evaluated_depsgraph_get())
        assert abs(vertices[:, 2].min()) <= 0.01, "feet on z = 0"
        assert abs(np.ptp(vertices[:, 2]) - record["height_m"]) <= 0.01
        assert (character.first_frame, character.last_frame) == (1, 1), "no animation baked into a generated person"
    bpy.ops.wm.read_factory_settings(use_empty=True)
    fbx = import_character(folder / f"{records[0]['name']}.fbx", "a")
    fbx_names = sorted(bone.name for bone in fbx.armature.data.bones)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    glb = import_character(folder / f"{records[0]['name']}.glb", "b")
    assert fbx_names == sorted(bone.name for bone in glb.armature.data.bones)


def test_renders_place_the_face_on_the_generators_vertices(people, tmp_path):
    folder, records = people
    record = records[0]
    path = folder / f"{record['name']}.glb"
    params_data = {
        "characters": [{"name": "person", **_ref_fields(path)}],
        "angles": 4,
        "preset": "preview",
        "resolution": [256, 256],
    }
    params = manifest_from_dict(
        {"job_id": new_job_id("render"), "job_type": "render", "created_at": "2026-01-01T00:00:00Z", "params": params_data}
    ).params
    summary = render_dataset(params, {"person": path}, tmp_path / "out")
    (character,) = summary["characters"]
    assert character["landmark_source"] == "generator" and summary["failures"] == []
    label = json.loads((tmp_path / "out" / "person" / "front.json").read_text())
    point = {name: label["keypoints"]["mediapipe33"][MEDIAPIPE33_NAMES.index(name)] for name in MEDIAPIPE33_NAMES}
    assert point["left_eye"][0] > point["nose"][0] > point["right_eye"][0], "the character's left eye is on the image's right"
    eyes_y = (point["left_eye"][1] + point["right_eye"][1]) / 2
    assert eyes_y < point["nose"][1] < min(point["mouth_left"][1], point["mouth_right"][1]), "nose between eyes and mouth"
    assert all(point[name][2] == 2 for name in ("nose", "left_eye", "right_eye", "mouth_left", "mouth_right"))
    camera = label["camera"]
    K, R, t = (np.array(camera[key]) for key in ("K", "R", "t"))
    nose_rest = np.array(record["landmarks_m"]["nose"])
    expected, _ = project_points(nose_rest[None], K, R, t)
    assert np.linalg.norm(np.array(point["nose"][:2]) - expected[0]) < 1.0, "the nose is the generator's vertex"


def _ref_fields(path: Path) -> dict[str, str]:
    ref = character_ref_for(path)
    return {"sha256": ref.sha256, "ext": ref.ext}


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pose_factory_addon.cli", *args],
        capture_output=True,
        text=True,
        env=environment(tmp_path),
        timeout=300,
    )


def test_cli_generates_describes_and_lists(characters_python, tmp_path):
    out = tmp_path / "people"
    made = _cli(
        tmp_path,
        "characters",
        "generate",
        "--describe",
        "short elderly man, slim",
        "--count",
        "2",
        "--formats",
        "glb",
        "--out",
        str(out),
    )
    assert made.returncode == 0, made.stderr
    assert "described as: gender male, age 75 years" in made.stderr and "Traceback" not in made.stderr
    files = sorted(path.name for path in out.iterdir())
    assert (
        len([name for name in files if name.endswith(".glb")]) == 2
        and len([name for name in files if name.endswith(".json")]) == 2
    )
    assert all(name.startswith("male_75y_slim_") for name in files)
    listed = _cli(tmp_path, "characters", "list", str(out))
    rows = [line for line in listed.stdout.splitlines() if line.startswith("male_75y_slim_")]
    assert listed.returncode == 0 and len(rows) == 2 and all(" 75 " in row for row in rows)
    for bad, message in (
        (["--age", "200"], "age must be between 1 and 90"),
        (["--body-type", "giant"], "invalid choice"),
        (["--describe", "purple elephant"], "describes a person"),
        (["--formats", "obj"], "--formats"),
        (["--count", "0"], "count must be between 1"),
    ):
        result = _cli(tmp_path, "characters", "generate", *bad, "--out", str(tmp_path / "bad"))
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, (bad, result.stderr)


@pytest.mark.parametrize("store_kind", ["local", pytest.param("s3", marks=pytest.mark.s3)])
def test_a_character_job_is_generated_published_and_rendered_by_an_agent(characters_python, store_kind, tmp_path, request):
    url = (tmp_path / "store").as_uri() if store_kind == "local" else request.getfixturevalue("s3_url")
    queue = open_queue(url)
    spec = character_spec(gender="female", age=40, body_type="heavy", seed=11)
    draft = JobManifest(new_job_id("character"), "character", "2026-01-01T00:00:00Z", CharacterParams(spec=spec)).to_dict()
    draft["params"].update(formats=["glb"], then_render={"angles": 1, "preset": "preview", "resolution": [96, 96]})
    manifest = manifest_from_dict(draft)
    queue.submit(manifest)
    agent = _cli(tmp_path, "agent", "--store", url, "--once", "--workspace", str(tmp_path / "ws"))
    assert agent.returncode == 0, agent.stderr[-3000:]
    status = queue.status(manifest.job_id)
    assert status is not None and status.state == "completed", status
    downloaded = _cli(tmp_path, "download", manifest.job_id, "--store", url, "--out", str(tmp_path / "results"))
    assert downloaded.returncode == 0, downloaded.stderr
    results = tmp_path / "results"
    (asset,) = json.loads((results / "characters" / "assets.json").read_text())
    (glb,) = (results / "characters").glob("*.glb")
    assert asset["name"] == glb.stem and queue.store.exists(f"assets/characters/{asset['sha256']}.glb")
    assert json.loads((results / "dataset.json").read_text())["counts"]["images"] == 1
    rendered = _cli(tmp_path, "render", str(results / "characters"), "--out", str(tmp_path / "again"), "--angles", "1",
                    "--preset", "preview", "--resolution", "64x64")  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr
    assert json.loads((tmp_path / "again" / "dataset.json").read_text())["characters"][0]["landmark_source"] == "generator"
