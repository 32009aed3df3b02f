"""The sample mannequin rigged in an A-pose (no Blender): same body, arms 45 degrees down at rest, same poses."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from pose_factory_addon.core.sample_mesh import mannequin_meshes
from pose_factory_addon.core.sample_rig import APOSE_ARM_DOWN_DEG, MOTIONS, motion, posed_bones, skeleton


def _direction(bone: object) -> np.ndarray:
    vector = np.subtract(bone.tail, bone.head)  # type: ignore[attr-defined]
    return vector / np.linalg.norm(vector)


def test_the_apose_lowers_the_arms_and_changes_nothing_else() -> None:
    tpose, apose = skeleton("average"), skeleton("average", rest_pose="apose")
    assert list(apose) == list(tpose) and len(apose) == 65
    down = math.radians(APOSE_ARM_DOWN_DEG)
    assert np.allclose(_direction(apose["LeftArm"]), [math.cos(down), 0.0, -math.sin(down)])
    assert np.allclose(_direction(apose["RightForeArm"]), [-math.cos(down), 0.0, -math.sin(down)])
    assert apose["LeftArm"].head == tpose["LeftArm"].head, "the arm turns about its shoulder joint"
    moved = {name for name in tpose if not np.allclose(tpose[name].head + tpose[name].tail, apose[name].head + apose[name].tail)}
    assert moved and all(name.startswith(("LeftArm", "LeftForeArm", "LeftHand", "RightArm", "RightForeArm", "RightHand"))
                         for name in moved)  # fmt: skip
    with pytest.raises(ValueError, match="unknown rest pose"):
        skeleton("average", rest_pose="ipose")


@pytest.mark.parametrize("name", sorted(MOTIONS))
def test_every_motion_poses_an_apose_skeleton_exactly_like_the_tpose(name: str) -> None:
    for frame in (1, 1 + motion(name).frame_count // 3):
        tpose_turns, tpose_heads = posed_bones("slim", name, frame)
        apose_turns, apose_heads = posed_bones("slim", name, frame, "apose")
        apose = skeleton("slim", rest_pose="apose")
        for bone in tpose_heads:
            assert np.allclose(apose_heads[bone], tpose_heads[bone], atol=1e-12), (name, bone)
        tpose = skeleton("slim")
        for bone in ("LeftArm", "RightHand", "LeftUpLeg"):
            assert np.allclose(apose_turns[bone] @ _direction(apose[bone]), tpose_turns[bone] @ _direction(tpose[bone]))


@pytest.mark.parametrize("variant", ["mannequin", "robot", "clothed"])
def test_the_apose_skin_is_the_tpose_skin_with_the_arms_lowered(variant: str) -> None:
    tpose, apose = mannequin_meshes("heavy", variant), mannequin_meshes("heavy", variant, rest_pose="apose")
    assert list(apose) == list(tpose)
    for name, mesh in apose.items():
        assert mesh.faces == tpose[name].faces and mesh.vertices.shape == tpose[name].vertices.shape
        edges = Counter(tuple(sorted((face[i], face[(i + 1) % len(face)]))) for face in mesh.faces for i in range(len(face)))
        assert set(edges.values()) == {2}
        legs = tpose[name].vertices[:, 2] < 0.75
        assert np.allclose(mesh.vertices[legs], tpose[name].vertices[legs]), "below the hands nothing moves"
    body = next(iter(apose.values())).vertices
    assert abs(body[:, 2].min()) < 0.005
    assert body[:, 0].max() < 0.8 * next(iter(tpose.values())).vertices[:, 0].max(), "the arms no longer stretch out"
