"""Retargeting maths without Blender: every library clip onto T-pose and A-pose sample rigs (numpy forward kinematics)."""

from __future__ import annotations

import numpy as np
import pytest

from pose_factory_addon.core import rotations
from pose_factory_addon.core.motion import Motion, library_motion, library_names
from pose_factory_addon.core.retarget import TargetRig, arm_clearance_deg, retarget
from pose_factory_addon.core.sample_mesh import mannequin_meshes
from pose_factory_addon.core.sample_rig import skeleton

LIMBS = tuple(f"{side}{bone}" for side in ("Left", "Right") for bone in ("Arm", "ForeArm", "UpLeg", "Leg"))
CHILD = {"Arm": "ForeArm", "ForeArm": "Hand", "UpLeg": "Leg", "Leg": "Foot"}
CONTACT_M = 0.02  # source frames whose lowest point is this close to the floor touch it


def sample_target_rig(shape: str, rest_pose: str, drop: tuple[str, ...] = ()) -> TargetRig:
    """The procedural sample as a rig: Mixamo bones (minus ``drop``), bone axes Y along the bone and Z to
    the front, its skin with each vertex on its heaviest bone."""
    bones = {name: bone for name, bone in skeleton(shape, rest_pose=rest_pose).items() if name not in drop}
    names = tuple(bones)
    parents = tuple(names.index(bone.parent) if bone.parent else -1 for bone in bones.values())
    axes = []
    for bone in bones.values():
        y = np.subtract(bone.tail, bone.head)
        y /= np.linalg.norm(y)
        front = np.array([0.0, 0.0, 1.0]) if abs(y[1]) > 0.9 else np.array([0.0, -1.0, 0.0])
        z = front - y * (front @ y)
        z /= np.linalg.norm(z)
        axes.append(np.column_stack([np.cross(y, z), y, z]))
    points, owners = [], []
    for mesh in mannequin_meshes(shape, rest_pose=rest_pose).values():
        best = np.zeros(len(mesh.vertices))
        owner = np.full(len(mesh.vertices), -1)
        for bone, (indices, weights) in mesh.weights.items():
            heavier = weights > best[indices]
            best[indices[heavier]] = weights[heavier]
            owner[indices[heavier]] = names.index(bone) if bone in names else -1
        points.append(mesh.vertices[owner >= 0])
        owners.append(owner[owner >= 0])
    heads = np.array([bone.head for bone in bones.values()])
    return TargetRig(names, parents, heads, np.array(axes), 1.0, np.concatenate(points), np.concatenate(owners))


@pytest.fixture(scope="module")
def rigs() -> dict[str, TargetRig]:
    return {"tpose": sample_target_rig("average", "tpose"), "apose": sample_target_rig("heavy", "apose")}


def lowest_skin(rig: TargetRig, world: np.ndarray, heads: np.ndarray) -> np.ndarray:
    """Height [F] of the lowest skin point, each point moved rigidly with its bone."""
    bones = rig.skin_bones
    local = rig.skin_points - rig.heads[bones]
    return np.array(
        [(heads[frame, bones] + np.einsum("pij,pj->pi", world[frame, bones], local))[:, 2].min() for frame in range(len(world))]
    )


def limb_errors(motion: Motion, heads: np.ndarray, rig: TargetRig) -> dict[str, np.ndarray]:
    """Degrees [F] between each source limb segment and the rig's limb (joint to joint) in every frame."""
    errors = {}
    for limb in LIMBS:
        side = "Left" if limb.startswith("Left") else "Right"
        child = side + CHILD[limb[len(side) :]]
        errors[limb] = rotations.angle_between(motion.directions(limb), heads[:, rig.index(child)] - heads[:, rig.index(limb)])
    return errors


def sides_agree(motion: Motion, heads: np.ndarray, rig: TargetRig) -> bool:
    """In every frame where the source's left and right limb differ by more than 20 degrees, each of the
    rig's limbs is closer to the source limb of its own side than to the other side's."""
    for bone in ("Arm", "ForeArm", "UpLeg", "Leg"):
        left, right = motion.directions(f"Left{bone}"), motion.directions(f"Right{bone}")
        apart = rotations.angle_between(left, right) > 20.0
        for side, own, other in (("Left", left, right), ("Right", right, left)):
            child = side + CHILD[bone]
            limb = heads[:, rig.index(child)] - heads[:, rig.index(side + bone)]
            closer = rotations.angle_between(limb, own) < rotations.angle_between(limb, other)
            if not closer[apart].all():
                return False
    return True


@pytest.mark.parametrize("rest_pose", ["tpose", "apose"])
def test_every_library_clip_keeps_its_limb_directions_sides_and_floor(rigs: dict[str, TargetRig], rest_pose: str) -> None:
    rig = rigs[rest_pose]
    for name in library_names():
        motion = library_motion(name)
        clip = retarget(motion, rig)
        errors = np.concatenate(list(limb_errors(motion, clip.heads, rig).values()))
        assert np.median(errors) <= 5.0 and errors.max() <= 15.0, (name, np.median(errors), errors.max())
        assert sides_agree(motion, clip.heads, rig), name
        contact = motion.clearance <= CONTACT_M
        lowest = lowest_skin(rig, clip.world_rotations, clip.heads)
        assert np.allclose(lowest, clip.lowest), name
        assert contact.any() and np.abs(lowest[contact]).max() <= 0.03, name
        assert lowest.min() >= -1e-9, f"{name}: the body never sinks into the floor"


def test_the_spine_shares_the_bend_between_pelvis_and_chest(rigs: dict[str, TargetRig]) -> None:
    """The source has a pelvis and a chest; the rig's Spine and Spine1 take a third and two thirds of the bend,
    Spine2 the chest's rotation, Neck half the way from the chest to the head."""
    rig = rigs["tpose"]
    motion = library_motion("backflip")
    world = retarget(motion, rig).world_rotations
    source = motion.matrices()

    def bend(low: np.ndarray, high: np.ndarray) -> np.ndarray:
        relative = np.swapaxes(low, -1, -2) @ high
        return np.degrees(np.arccos(np.clip((np.trace(relative, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)))

    hips, chest, head = (source[:, motion.index(name)] for name in ("Hips", "Spine2", "Head"))
    assert np.allclose(world[:, rig.index("Spine2")], chest) and np.allclose(world[:, rig.index("Head")], head)
    total = bend(hips, chest)
    assert total.max() > 10.0
    assert np.allclose(bend(hips, world[:, rig.index("Spine")]), total / 3.0, atol=1e-6)
    assert np.allclose(bend(hips, world[:, rig.index("Spine1")]), 2.0 * total / 3.0, atol=1e-6)
    assert np.allclose(bend(chest, world[:, rig.index("Neck")]), bend(chest, head) / 2.0, atol=1e-6)


def test_a_tpose_and_an_apose_rig_of_one_body_move_identically() -> None:
    """The rest pose only changes how a limb is aligned to its segment, never where it ends up."""
    tpose, apose = sample_target_rig("slim", "tpose"), sample_target_rig("slim", "apose")
    for name in ("dance_a", "cartwheel"):
        motion = library_motion(name)
        assert np.allclose(retarget(motion, tpose).heads, retarget(motion, apose).heads, atol=1e-6), name


def _hanging_arms() -> Motion:
    """One second standing with the arms hanging straight down (the source's rest pose)."""
    walk = library_motion("walk")
    frames = 3
    identity = np.tile([1.0, 0.0, 0.0, 0.0], (frames, len(walk.segments), 1))
    standing = np.tile([0.0, 0.0, walk.hip_height], (frames, 1))
    return Motion("hang", 30.0, False, walk.segments, walk.rest_directions, identity, standing, np.zeros(frames), walk.hip_height)


def test_hanging_arms_are_turned_out_just_clear_of_wide_hips() -> None:
    rig = sample_target_rig("heavy", "apose")
    needed = arm_clearance_deg(rig, "Left")
    assert 2.0 < needed < 15.0 and arm_clearance_deg(rig, "Right") == pytest.approx(needed)
    clip = retarget(_hanging_arms(), rig)
    assert clip.arm_clearance_deg[0] == pytest.approx([needed, needed])
    world, heads = clip.world_rotations[0], clip.heads[0]
    arm = np.isin(rig.skin_bones, [rig.index(name) for name in ("LeftForeArm", "LeftHand")])
    hips = np.isin(rig.skin_bones, [rig.index(name) for name in ("Hips", "LeftUpLeg")])
    posed = {}
    for label, mask in (("arm", arm), ("hips", hips)):
        bones = rig.skin_bones[mask]
        local = rig.skin_points[mask] - rig.heads[bones]
        posed[label] = heads[bones] + np.einsum("pij,pj->pi", world[bones], local)
    for height in np.arange(0.75, 1.0, 0.02):
        near = np.abs(posed["arm"][:, 2] - height) < 0.01
        body = np.abs(posed["hips"][:, 2] - height) < 0.01
        if near.any() and body.any():
            assert posed["arm"][near, 0].min() >= posed["hips"][body, 0].max() + 0.005, height


def test_pose_bone_rotations_rebuild_the_world_rotations(rigs: dict[str, TargetRig]) -> None:
    """What Blender computes from the keyed rotations: ``G = G_parent @ axes @ q @ axes^T`` for keyed bones."""
    rig = rigs["apose"]
    clip = retarget(library_motion("kick"), rig)
    keyed = {name: column for column, name in enumerate(clip.bones)}
    rebuilt = np.empty_like(clip.world_rotations)
    for index, (name, parent) in enumerate(zip(rig.names, rig.parents, strict=True)):
        parent_world = rebuilt[:, parent] if parent >= 0 else np.eye(3)
        local = np.eye(3)
        if name in keyed:
            local = rig.axes[index] @ rotations.to_matrix(clip.quaternions[:, keyed[name]]) @ rig.axes[index].T
        rebuilt[:, index] = parent_world @ local
    assert np.allclose(rebuilt, clip.world_rotations, atol=1e-9)
    assert "LeftHandIndex2" not in keyed and "LeftToeBase" not in keyed, "bones the source never drives stay unkeyed"
    hips = rig.index("Hips")
    assert np.allclose(rig.heads[hips] + clip.root_location @ rig.axes[hips].T, clip.heads[:, hips])


def test_root_motion_keeps_the_travel_scaled_to_the_rig(rigs: dict[str, TargetRig]) -> None:
    rig = rigs["tpose"]
    motion = library_motion("walk")
    scale = rig.pelvis_centre()[2] / motion.hip_height
    hips = [rig.index("LeftUpLeg"), rig.index("RightUpLeg")]
    travelling = retarget(motion, rig, root_motion=True).heads[:, hips].mean(axis=1)
    in_place = retarget(motion, rig).heads[:, hips].mean(axis=1)
    travel = motion.root_positions[-1, :2] - motion.root_positions[0, :2]
    assert np.allclose(travelling[-1, :2] - travelling[0, :2], scale * travel, atol=1e-6)
    assert np.allclose(in_place[-1, :2], in_place[0, :2], atol=1e-6)


def test_rigs_without_end_bones_take_motions_too() -> None:
    """Generated people have no HeadTop_End, Toe_End or fourth finger joints (52 bones)."""
    fingertips = (
        f"{side}Hand{finger}4" for side in ("Left", "Right") for finger in ("Thumb", "Index", "Middle", "Ring", "Pinky")
    )
    ends = ("HeadTop_End", "LeftToe_End", "RightToe_End", *fingertips)
    rig = sample_target_rig("average", "apose", drop=ends)
    assert len(rig.names) == 52
    motion = library_motion("run")
    clip = retarget(motion, rig)
    errors = np.concatenate(list(limb_errors(motion, clip.heads, rig).values()))
    assert errors.max() <= 15.0


def test_a_rig_without_hips_is_refused(rigs: dict[str, TargetRig]) -> None:
    rig = rigs["tpose"]
    broken = TargetRig(tuple("X" if name == "Hips" else name for name in rig.names), rig.parents, rig.heads, rig.axes, 1.0,
                       rig.skin_points, rig.skin_bones)  # fmt: skip
    with pytest.raises(ValueError, match="no Hips bone"):
        retarget(library_motion("walk"), broken)
