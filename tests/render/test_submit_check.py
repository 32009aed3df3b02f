"""`submit --check` opens each character in Blender once and refuses unrenderable ones before anything is uploaded."""

from __future__ import annotations

from pathlib import Path

import pytest

bpy = pytest.importorskip("bpy")

from pose_factory_addon import cli  # noqa: E402

pytestmark = pytest.mark.bpy

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "characters" / "Mannequin_Slim_Wave.glb"


def _export_glb(path: Path, with_rig: bool) -> Path:
    """A cube (a prop, no rig), or a cube skinned to an armature whose one bone has Blender's default name."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.mesh.primitive_cube_add()
    cube = bpy.context.active_object
    if with_rig:
        bpy.ops.object.armature_add(location=(0, 0, -1))
        rig = bpy.context.active_object
        cube.parent = rig
        modifier = cube.modifiers.new("Armature", "ARMATURE")
        modifier.object = rig
        cube.vertex_groups.new(name="Bone").add(list(range(len(cube.data.vertices))), 1.0, "REPLACE")
    bpy.ops.export_scene.gltf(filepath=str(path), export_format="GLB")
    return path


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("POSE_FACTORY_CONFIG", raising=False)
    return tmp_path / "store"


def _submit(store: Path, *paths: Path) -> list[str]:
    return ["submit", *map(str, paths), "--check", "--angles", "1", "--preset", "preview", "--store", store.as_uri()]


def test_files_without_a_mixamo_rig_are_refused_before_uploading(
    store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prop = _export_glb(tmp_path / "Prop.glb", with_rig=False)
    default_rig = _export_glb(tmp_path / "DefaultRig.glb", with_rig=True)
    assert cli.main(_submit(store, SAMPLE, prop, default_rig)) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("pose-factory submit: error: 2 of 3 characters cannot be rendered, nothing was uploaded: ")
    assert "Prop.glb: no armature found" in line
    assert "DefaultRig.glb: the armature is not a Mixamo-like rig (missing bones: " in line
    assert not list(store.rglob("*.glb")) and not list(store.rglob("render_*.json"))


def test_a_mixamo_character_passes_the_check_and_is_queued(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(_submit(store, SAMPLE)) == 0
    captured = capsys.readouterr()
    assert "checked 1 character(s) with Blender: each has a Mixamo-like rig and a skinned mesh" in captured.err
    assert captured.out.splitlines()[-1].startswith("render_") and len(list(store.rglob("*.glb"))) == 1
