"""The procedural sample characters in real Blender: rig, skin, motions, FBX/GLB round trips."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from pose_factory_addon.core.sample_rig import MIXAMO_PREFIX, motion  # noqa: E402
from pose_factory_addon.core.skeletons import canonical_bone_name, missing_mixamo_bones  # noqa: E402
from pose_factory_addon.render.sample_characters import (  # noqa: E402
    SAMPLE_SET,
    SampleFile,
    build_sample_character,
    export_sample_character,
    known_joint_positions,
)

pytestmark = pytest.mark.bpy

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "samples" / "characters"


@pytest.fixture(autouse=True)
def empty_scene() -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)


def _armature() -> bpy.types.Object:
    (armature,) = [obj for obj in bpy.context.scene.objects if obj.type == "ARMATURE"]
    return armature


def _posed_heads(armature: bpy.types.Object) -> dict[str, np.ndarray]:
    return {canonical_bone_name(bone.name): np.array(armature.matrix_world @ bone.head) for bone in armature.pose.bones}


def _assert_matches_ground_truth(armature: bpy.types.Object, shape: str, motion_name: str, frames: list[int]) -> None:
    for frame in frames:
        bpy.context.scene.frame_set(frame)
        heads = _posed_heads(armature)
        for bone, expected in known_joint_positions(shape, motion_name, frame).items():
            assert np.allclose(heads[bone], expected, atol=1e-4), (bone, frame, heads[bone], expected)


def _evaluated_vertices() -> np.ndarray:
    depsgraph = bpy.context.evaluated_depsgraph_get()
    chunks = []
    for obj in bpy.context.scene.objects:
        if obj.type != "MESH":
            continue
        evaluated = obj.evaluated_get(depsgraph)
        mesh = evaluated.to_mesh()
        coordinates = np.empty(len(mesh.vertices) * 3)
        mesh.vertices.foreach_get("co", coordinates)
        matrix = np.array(evaluated.matrix_world)
        chunks.append(coordinates.reshape(-1, 3) @ matrix[:3, :3].T + matrix[:3, 3])
        evaluated.to_mesh_clear()
    return np.vstack(chunks)


@pytest.mark.parametrize("mixamo_layout", [False, True], ids=["metres", "mixamo_layout"])
def test_built_rig_has_mixamo_bones_and_follows_the_definition(mixamo_layout: bool) -> None:
    armature = build_sample_character("heavy", "walk", mixamo_layout=mixamo_layout)
    names = [bone.name for bone in armature.data.bones]
    assert len(names) == 65 and all(name.startswith(MIXAMO_PREFIX) for name in names)
    assert missing_mixamo_bones(names) == []
    assert (bpy.context.scene.frame_start, bpy.context.scene.frame_end) == (1, motion("walk").frame_count)
    _assert_matches_ground_truth(armature, "heavy", "walk", [1, 9, 20])


def test_rest_mesh_stands_on_the_ground_at_human_height_facing_minus_y() -> None:
    armature = build_sample_character("average", "tpose")
    vertices = _evaluated_vertices()
    assert abs(vertices[:, 2].min()) < 0.01
    assert 1.6 <= vertices[:, 2].max() - vertices[:, 2].min() <= 1.9
    heads = _posed_heads(armature)
    assert heads["LeftArm"][0] > heads["RightArm"][0] + 0.2
    meshes = [obj for obj in bpy.context.scene.objects if obj.type == "MESH"]
    assert len(meshes) == 2 and all(obj.modifiers["Armature"].object == armature for obj in meshes)


def _edge_length_ratios() -> np.ndarray:
    """Posed over rest length of every mesh edge at the current frame (1.0 = not stretched)."""
    depsgraph = bpy.context.evaluated_depsgraph_get()
    ratios = []
    for obj in bpy.context.scene.objects:
        if obj.type != "MESH":
            continue
        edges = np.empty(len(obj.data.edges) * 2, dtype=np.int64)
        obj.data.edges.foreach_get("vertices", edges)
        edges = edges.reshape(-1, 2)
        rest = np.empty(len(obj.data.vertices) * 3)
        obj.data.vertices.foreach_get("co", rest)
        evaluated = obj.evaluated_get(depsgraph)
        mesh = evaluated.to_mesh()
        posed = np.empty(len(mesh.vertices) * 3)
        mesh.vertices.foreach_get("co", posed)
        evaluated.to_mesh_clear()
        rest, posed = rest.reshape(-1, 3), posed.reshape(-1, 3)
        rest_lengths = np.linalg.norm(rest[edges[:, 0]] - rest[edges[:, 1]], axis=1)
        posed_lengths = np.linalg.norm(posed[edges[:, 0]] - posed[edges[:, 1]], axis=1)
        ratios.append(posed_lengths / rest_lengths)
    return np.concatenate(ratios)


@pytest.mark.parametrize(("motion_name", "frame"), [("walk", 9), ("wave", 1), ("squat", 21), ("jumping_jack", 13)])
def test_skin_deforms_without_tearing(motion_name: str, frame: int) -> None:
    build_sample_character("average", motion_name)
    bpy.context.scene.frame_set(frame)
    ratios = _edge_length_ratios()
    assert np.isfinite(ratios).all()
    assert ratios.min() > 0.6 and ratios.max() < 1.6


def test_wave_raises_the_characters_right_hand_only() -> None:
    armature = build_sample_character("slim", "wave")
    for frame in (1, 9, 17, 25):
        bpy.context.scene.frame_set(frame)
        heads = _posed_heads(armature)
        assert heads["RightHand"][2] > heads["Head"][2] + 0.1 and heads["RightForeArm"][2] > heads["RightArm"][2]
        assert heads["LeftHand"][2] < heads["Head"][2]
        assert heads["RightHand"][0] < 0.0 < heads["LeftHand"][0]


def test_fbx_reimports_like_a_mixamo_download(tmp_path: Path) -> None:
    path = export_sample_character(tmp_path / "Mannequin.fbx", "average", "walk")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.fbx(filepath=str(path))
    armature = _armature()
    assert armature.scale[:] == pytest.approx((0.01, 0.01, 0.01))
    assert armature.rotation_euler[:] == pytest.approx((math.pi / 2.0, 0.0, 0.0), abs=1e-5)
    names = [bone.name for bone in armature.data.bones]
    assert len([name for name in names if name.startswith(MIXAMO_PREFIX)]) == 65
    assert np.array(armature.data.bones[MIXAMO_PREFIX + "Hips"].head_local)[1] > 50.0, "bones in centimetres, Y up"
    action = armature.animation_data.action
    assert action.name.endswith("mixamo.com")
    assert tuple(action.frame_range) == (1.0, float(motion("walk").frame_count))
    skinned = [obj for obj in bpy.context.scene.objects if obj.type == "MESH" and obj.find_armature() == armature]
    assert len(skinned) == 2
    _assert_matches_ground_truth(armature, "average", "walk", [1, 9, 25])


def test_glb_reimports_with_its_animation(tmp_path: Path) -> None:
    path = export_sample_character(tmp_path / "Mannequin.glb", "slim", "wave")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.gltf(filepath=str(path))
    armature = _armature()
    action = armature.animation_data.action
    assert tuple(action.frame_range) == (1.0, float(motion("wave").frame_count))
    _assert_matches_ground_truth(armature, "slim", "wave", [1, 9])


def test_export_leaves_the_current_scene_alone(tmp_path: Path) -> None:
    bpy.ops.mesh.primitive_cube_add()
    before = {collection: len(collection) for collection in (bpy.data.objects, bpy.data.meshes, bpy.data.scenes)}
    export_sample_character(tmp_path / "Mannequin.glb", "average", "still")
    assert {collection: len(collection) for collection in before} == before
    with pytest.raises(ValueError, match=r"\.fbx or \.glb"):
        export_sample_character(tmp_path / "Mannequin.obj", "average", "still")


@pytest.mark.parametrize("sample", SAMPLE_SET, ids=[sample.file_name for sample in SAMPLE_SET])
def test_committed_samples_are_small_and_current(sample: SampleFile) -> None:
    path, shape, motion_name = SAMPLES_DIR / sample.file_name, sample.shape, sample.motion
    assert path.stat().st_size < 1.5e6
    if path.suffix == ".fbx":
        bpy.ops.import_scene.fbx(filepath=str(path))
    else:
        bpy.ops.import_scene.gltf(filepath=str(path))
    armature = _armature()
    assert tuple(armature.animation_data.action.frame_range) == (1.0, float(motion(motion_name).frame_count))
    _assert_matches_ground_truth(armature, shape, motion_name, [1 + motion(motion_name).frame_count // 4])


def test_committed_sample_set_fits_the_budget() -> None:
    assert sum((SAMPLES_DIR / sample.file_name).stat().st_size for sample in SAMPLE_SET) < 8e6
