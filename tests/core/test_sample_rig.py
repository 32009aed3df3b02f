"""The sample mannequin's definition (no Blender): skeleton, motions, ground truth and skin."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from pose_factory_addon.core.sample_mesh import (
    BODY_MESH,
    JOINTS_MESH,
    known_landmark_positions,
    mannequin_meshes,
    surface_reference_points,
)
from pose_factory_addon.core.sample_rig import (
    BODY_SHAPES,
    MOTIONS,
    frame_pose,
    joint_positions,
    known_joint_positions,
    motion,
    skeleton,
)
from pose_factory_addon.core.skeletons import missing_mixamo_bones


@pytest.mark.parametrize("shape", sorted(BODY_SHAPES))
def test_skeleton_has_mixamo_bones_parents_first(shape: str) -> None:
    bones = skeleton(shape)
    assert len(bones) == 65
    assert missing_mixamo_bones(list(bones)) == []
    seen: set[str] = set()
    for name, bone in bones.items():
        assert not bone.parent or bone.parent in seen, name
        seen.add(name)


def test_shapes_differ_in_height_and_stand_in_range() -> None:
    heights = {shape: skeleton(shape)["HeadTop_End"].head[2] for shape in BODY_SHAPES}
    assert all(1.6 <= height <= 1.9 for height in heights.values())
    assert len(set(heights.values())) == len(heights)


def test_left_is_plus_x_and_the_face_is_minus_y() -> None:
    joints = joint_positions("average", "tpose", 1)
    assert joints["LeftArm"][0] > 0.1 > -0.1 > joints["RightArm"][0]
    assert joints["LeftHand"][0] > joints["LeftForeArm"][0] > joints["LeftArm"][0]
    nose = known_landmark_positions("average", "tpose", 1)["nose"]
    assert nose[1] < joints["Head"][1] - 0.1
    assert joints["LeftToe_End"][1] < joints["LeftFoot"][1] < surface_reference_points("average")["left_heel"][1][1]


@pytest.mark.parametrize("name", sorted(MOTIONS))
def test_clips_loop_and_start_at_frame_one(name: str) -> None:
    clip = motion(name)
    first = joint_positions("average", name, 1)
    wrapped = joint_positions("average", name, clip.frame_count + 1)
    assert all(np.allclose(first[bone], wrapped[bone]) for bone in first)


def test_wave_raises_the_right_hand_beside_the_head_in_every_frame() -> None:
    wrist_x = []
    for frame in range(1, motion("wave").frame_count + 1):
        joints = joint_positions("slim", "wave", frame)
        assert joints["RightHand"][2] > joints["Head"][2] + 0.1, "the hand is up at head height"
        assert joints["RightForeArm"][2] >= joints["RightArm"][2] and joints["RightForeArm"][1] < -0.05, "elbow out and forward"
        assert joints["LeftHand"][2] < joints["LeftArm"][2] - 0.3
        wrist_x.append(joints["RightHand"][0])
    assert max(wrist_x) - min(wrist_x) > 0.1, "the hand swings side to side"


def test_walk_alternates_legs_and_arms() -> None:
    left_forward = joint_positions("average", "walk", 9)
    right_forward = joint_positions("average", "walk", 25)
    assert left_forward["LeftFoot"][1] < left_forward["RightFoot"][1] - 0.3
    assert left_forward["RightHand"][1] < left_forward["LeftHand"][1] - 0.2
    assert right_forward["RightFoot"][1] < right_forward["LeftFoot"][1] - 0.3


def test_squat_lowers_the_hips_with_feet_in_place() -> None:
    standing, deepest = joint_positions("heavy", "squat", 1), joint_positions("heavy", "squat", 21)
    assert deepest["Hips"][2] < standing["Hips"][2] - 0.4
    for bone in ("LeftFoot", "RightFoot"):
        assert np.allclose(deepest[bone], standing[bone], atol=0.01)


@pytest.mark.parametrize("name", sorted(MOTIONS))
def test_feet_touch_the_ground_except_in_the_hop(name: str) -> None:
    for frame in range(1, motion(name).frame_count + 1):
        pose = frame_pose("average", name, frame)
        joints = joint_positions("average", name, frame)
        lowest_ankle = min(joints["LeftFoot"][2], joints["RightFoot"][2])
        assert lowest_ankle >= 0.05
        if name != "jumping_jack":
            assert pose.hips_offset[2] <= 0.03


def test_known_joints_cover_landmark_bones() -> None:
    joints = known_joint_positions("average", "walk", 5)
    assert {"Head", "HeadTop_End", "LeftArm", "RightHand", "LeftHandThumb2", "RightToe_End"} <= set(joints)
    landmarks = known_landmark_positions("average", "walk", 5)
    assert np.allclose(landmarks["left_wrist"], joints["LeftHand"])
    assert {"nose", "left_ear", "right_heel", "left_foot_index"} <= set(landmarks)


@pytest.mark.parametrize("shape", sorted(BODY_SHAPES))
def test_meshes_are_closed_weighted_and_stand_on_the_ground(shape: str) -> None:
    meshes = mannequin_meshes(shape)
    assert set(meshes) == {BODY_MESH, JOINTS_MESH}
    body = meshes[BODY_MESH]
    height = skeleton(shape)["HeadTop_End"].head[2]
    assert abs(body.vertices[:, 2].min()) < 0.005
    assert abs(body.vertices[:, 2].max() - height) < 0.01
    for mesh in meshes.values():
        edges = Counter(tuple(sorted((face[i], face[(i + 1) % len(face)]))) for face in mesh.faces for i in range(len(face)))
        assert set(edges.values()) == {2}, "every edge joins exactly two faces (closed surfaces)"
        totals = np.zeros(len(mesh.vertices))
        for indices, weights in mesh.weights.values():
            np.add.at(totals, indices, weights)
        assert np.allclose(totals, 1.0)
    assert sum(len(mesh.vertices) for mesh in meshes.values()) < 12000
