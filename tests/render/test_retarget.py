"""Motions on imported Mixamo-rigged samples in real Blender: every library clip and a BVH file written here.

Two samples: the committed T-pose walk (an FBX as Mixamo ships it: armature at scale 0.01, rotated
90 degrees about X) and an A-pose heavy mannequin exported as glTF (other bone axes, other importer).
Angles are measured between each source limb segment and the posed limb Blender evaluates (joint to
joint), the floor on the deformed meshes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from motion_helpers import BVH_FRAME_TIME, CHILD, bvh_direction, write_bvh  # noqa: E402

from pose_factory_addon.core import rotations  # noqa: E402
from pose_factory_addon.core.motion import Motion, library_motion, library_names, looped  # noqa: E402
from pose_factory_addon.core.retarget import TargetRig  # noqa: E402
from pose_factory_addon.core.skeletons import canonical_bone_name  # noqa: E402
from pose_factory_addon.render.importer import Character, import_character  # noqa: E402
from pose_factory_addon.render.meshes import evaluated_world_vertices  # noqa: E402
from pose_factory_addon.render.pipeline import quiet_output, reset_scene  # noqa: E402
from pose_factory_addon.render.retarget import load_bvh_motion, retarget_onto, target_rig  # noqa: E402
from pose_factory_addon.render.sample_characters import export_sample_character  # noqa: E402

pytestmark = pytest.mark.bpy

TPOSE_SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "characters" / "Mannequin_Average_Walk.fbx"
LIMBS = tuple(f"{side}{bone}" for side in ("Left", "Right") for bone in ("Arm", "ForeArm", "UpLeg", "Leg"))
CONTACT_M = 0.02  # source frames whose lowest body point is this close to the floor touch it
FLOOR_M = 0.03
MEDIAN_DEG, MAX_DEG = 5.0, 15.0


@pytest.fixture(scope="module")
def apose_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return export_sample_character(tmp_path_factory.mktemp("apose") / "Heavy_APose.glb", "heavy", "still", rest_pose="apose")


def _imported(path: Path) -> Character:
    reset_scene()
    with quiet_output():
        return import_character(path, path.stem)


class Evaluated:
    """What Blender evaluates for a posed character over the frames of its current animation."""

    def __init__(self, character: Character, frames: int, floor_frames: list[int]) -> None:
        armature = character.armature
        names = {canonical_bone_name(bone.name): bone.name for bone in armature.pose.bones}
        needed = sorted({*LIMBS, *(side + child for side in ("Left", "Right") for child in CHILD.values())})
        matrix = np.array(armature.matrix_world)
        rest = {name: np.array(armature.data.bones[names[name]].matrix_local) for name in ("LeftUpLeg", "RightUpLeg")}
        self.heads = {name: np.empty((frames, 3)) for name in needed}
        self.thigh_left_axis = {side: np.empty((frames, 3)) for side in ("Left", "Right")}
        self.lowest: dict[int, float] = {}
        scene = bpy.context.scene
        for frame in range(1, frames + 1):
            scene.frame_set(frame)
            depsgraph = bpy.context.evaluated_depsgraph_get()
            posed = armature.evaluated_get(depsgraph).pose.bones
            for name in needed:
                self.heads[name][frame - 1] = (matrix @ np.append(np.array(posed[names[name]].head), 1.0))[:3]
            for side in ("Left", "Right"):
                bone = f"{side}UpLeg"
                turn = np.array(posed[names[bone]].matrix)[:3, :3] @ np.linalg.inv(rest[bone][:3, :3])
                world_turn = matrix[:3, :3] @ turn @ np.linalg.inv(matrix[:3, :3])
                self.thigh_left_axis[side][frame - 1] = world_turn @ np.array([1.0, 0.0, 0.0])
            if frame in floor_frames:
                self.lowest[frame] = float(evaluated_world_vertices(character.meshes, depsgraph)[:, 2].min())

    def limb(self, name: str) -> np.ndarray:
        side = "Left" if name.startswith("Left") else "Right"
        return self.heads[side + CHILD[name[len(side) :]]] - self.heads[name]


Directions = Callable[[str], np.ndarray]


def check_retarget(evaluated: Evaluated, source: Directions, clearance_m: np.ndarray) -> dict[str, float]:
    """The done-when measures of one clip (``clearance_m`` [F]: the source's lowest point above its floor,
    scaled to the rig); returns them, asserting nothing."""
    per_limb = {limb: rotations.angle_between(source(limb), evaluated.limb(limb)) for limb in LIMBS}
    errors = np.concatenate(list(per_limb.values()))
    swapped = 0
    for bone in ("Arm", "ForeArm", "UpLeg", "Leg"):
        left, right = source(f"Left{bone}"), source(f"Right{bone}")
        apart = rotations.angle_between(left, right) > 20.0
        for side, own, other in (("Left", left, right), ("Right", right, left)):
            limb = evaluated.limb(side + bone)
            closer = rotations.angle_between(limb, own) < rotations.angle_between(limb, other)
            swapped += int((~closer & apart).sum())
    flexion = []
    for side in ("Left", "Right"):
        thigh, shin = evaluated.limb(f"{side}UpLeg"), evaluated.limb(f"{side}Leg")
        bend = np.cross(thigh / np.linalg.norm(thigh, axis=1)[:, None], shin / np.linalg.norm(shin, axis=1)[:, None])
        flexion.append(np.sum(bend * evaluated.thigh_left_axis[side], axis=1))
    contact = [frame for frame in evaluated.lowest if clearance_m[frame - 1] <= CONTACT_M]
    return {
        "median_deg": float(np.median(errors)),
        "max_deg": float(errors.max()),
        "legs_max_deg": float(max(per_limb[limb].max() for limb in LIMBS if "Leg" in limb)),
        "swapped_frames": float(swapped),
        "knee_backward_sin": float(-np.concatenate(flexion).min()),
        "floor_max_m": max(abs(evaluated.lowest[frame]) for frame in contact) if contact else math.nan,
        "contact_frames": float(len(contact)),
    }


def measure_library_clip(character: Character, rig: TargetRig, name: str) -> dict[str, float]:
    motion = library_motion(name)
    started = time.perf_counter()
    animated, clip = retarget_onto(character, motion, rig)
    seconds = time.perf_counter() - started
    contact = [frame for frame in range(1, clip.frame_count + 1) if motion.clearance[frame - 1] <= CONTACT_M]
    evaluated = Evaluated(animated, clip.frame_count, contact[::2])
    scale = rig.pelvis_centre()[2] / motion.hip_height
    return {**check_retarget(evaluated, motion.directions, motion.clearance * scale), "retarget_s": seconds}


def assert_within_bounds(name: str, measures: dict[str, float]) -> None:
    assert measures["median_deg"] <= MEDIAN_DEG and measures["max_deg"] <= MAX_DEG, (name, measures)
    assert measures["swapped_frames"] == 0, (name, measures)
    assert measures["knee_backward_sin"] <= 1e-3, (name, measures)
    assert measures["contact_frames"] > 0 and measures["floor_max_m"] <= FLOOR_M, (name, measures)


@pytest.mark.parametrize("sample", ["tpose_fbx", "apose_glb"])
def test_every_library_clip_on_a_tpose_and_an_apose_rig(sample: str, apose_sample: Path) -> None:
    character = _imported(TPOSE_SAMPLE if sample == "tpose_fbx" else apose_sample)
    rig = target_rig(character)
    for name in library_names():
        assert_within_bounds(name, measure_library_clip(character, rig, name))


def test_a_bvh_file_with_known_angles_retargets_within_the_same_bounds(tmp_path: Path) -> None:
    path = tmp_path / "known_angles.bvh"
    write_bvh(path)
    character = _imported(TPOSE_SAMPLE)
    objects, actions = len(bpy.data.objects), len(bpy.data.actions)
    motion = load_bvh_motion(path, "known_angles")
    assert (len(bpy.data.objects), len(bpy.data.actions)) == (objects, actions), "the BVH skeleton is removed again"
    assert motion.frame_count == 31 and motion.hip_height == pytest.approx(90.0)
    animated, clip = retarget_onto(character, motion)
    bvh_frames = np.arange(clip.frame_count) / motion.fps / BVH_FRAME_TIME

    def known(limb: str) -> np.ndarray:
        return np.array([bvh_direction(frame, limb) for frame in bvh_frames])

    evaluated = Evaluated(animated, clip.frame_count, list(range(1, clip.frame_count + 1, 2)))
    scale = target_rig(character).pelvis_centre()[2] / motion.hip_height
    measures = check_retarget(evaluated, known, motion.clearance * scale)
    assert_within_bounds("known_angles", measures)
    assert measures["legs_max_deg"] < 0.5, "nothing moves a leg off the file's angles"
    assert measures["max_deg"] <= clip.arm_clearance_deg.max() + 0.5, "only the hanging arm is turned out, by its clearance"


def test_a_500_frame_clip_retargets_in_well_under_a_second() -> None:
    character = _imported(TPOSE_SAMPLE)
    rig = target_rig(character)
    long_walk: Motion = looped(library_motion("walk"), 13)
    assert long_walk.frame_count >= 490
    started = time.perf_counter()
    _, clip = retarget_onto(character, long_walk, rig)
    assert time.perf_counter() - started < 1.0
    assert clip.frame_count == long_walk.frame_count


def test_the_action_has_a_slot_and_replaces_the_files_animation() -> None:
    character = _imported(TPOSE_SAMPLE)
    armature = character.armature
    index_finger = next(bone for bone in armature.pose.bones if canonical_bone_name(bone.name) == "LeftHandIndex1")
    index_finger.rotation_quaternion = (0.7, 0.7, 0.0, 0.0)
    animated, clip = retarget_onto(character, library_motion("jump"))
    animation = armature.animation_data
    assert animation.action.name == "jump" and animation.action_slot == animation.action.slots[0]
    assert (animated.first_frame, animated.last_frame) == (1, clip.frame_count)
    assert (bpy.context.scene.frame_start, bpy.context.scene.frame_end) == (1, clip.frame_count)
    channelbag = animation.action.layers[0].strips[0].channelbag(animation.action_slot)
    assert len(channelbag.fcurves) == 4 * len(clip.bones) + 3
    assert all(len(curve.keyframe_points) == clip.frame_count for curve in channelbag.fcurves)
    bpy.context.scene.frame_set(5)
    assert tuple(index_finger.rotation_quaternion) == pytest.approx((1.0, 0.0, 0.0, 0.0)), "left at rest, not the old pose"


def test_unreadable_bvh_files_are_reported(tmp_path: Path) -> None:
    from pose_factory_addon.core.errors import MotionError

    broken = tmp_path / "broken.bvh"
    broken.write_text("HIERARCHY\nROOT Hips\n{\n")
    with pytest.raises(MotionError, match=r"broken\.bvh"):
        load_bvh_motion(broken, "broken")
    with pytest.raises(MotionError, match="not found"):
        load_bvh_motion(tmp_path / "missing.bvh", "missing")
