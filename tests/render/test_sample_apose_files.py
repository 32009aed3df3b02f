"""A-pose sample characters in real Blender: exported like Mixamo (FBX) and as glTF, re-imported with the same poses."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from pose_factory_addon.core.sample_rig import APOSE_ARM_DOWN_DEG  # noqa: E402
from pose_factory_addon.core.skeletons import canonical_bone_name  # noqa: E402
from pose_factory_addon.render.sample_characters import export_sample_character, known_joint_positions  # noqa: E402

pytestmark = pytest.mark.bpy


@pytest.mark.parametrize("suffix", [".fbx", ".glb"])
def test_an_apose_sample_reimports_with_lowered_arms_and_the_same_poses(tmp_path: Path, suffix: str) -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    path = export_sample_character(tmp_path / f"APose_Walk{suffix}", "average", "walk", rest_pose="apose")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    if suffix == ".fbx":
        bpy.ops.import_scene.fbx(filepath=str(path))
    else:
        bpy.ops.import_scene.gltf(filepath=str(path))
    (armature,) = [obj for obj in bpy.context.scene.objects if obj.type == "ARMATURE"]
    rest = {canonical_bone_name(bone.name): np.array(armature.matrix_world @ bone.head_local) for bone in armature.data.bones}
    arm = rest["LeftForeArm"] - rest["LeftArm"]
    assert math.degrees(math.atan2(-arm[2], arm[0])) == pytest.approx(APOSE_ARM_DOWN_DEG, abs=0.01)
    for frame in (1, 9, 20):
        bpy.context.scene.frame_set(frame)
        posed = {canonical_bone_name(bone.name): np.array(armature.matrix_world @ bone.head) for bone in armature.pose.bones}
        for bone, expected in known_joint_positions("average", "walk", frame).items():
            assert np.allclose(posed[bone], expected, atol=1e-4), (bone, frame)
