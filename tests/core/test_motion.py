"""Motion clips without Blender: the DeepMimic format, clean-up, resampling, mirroring, looping, skeletons."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from pose_factory_addon.core import rotations
from pose_factory_addon.core.errors import MotionError
from pose_factory_addon.core.motion import (
    LIBRARY,
    MOTION_FPS,
    deepmimic_motion,
    in_place,
    library_motion,
    library_names,
    library_summaries,
    looped,
    mirrored,
    resampled,
    skeleton_motion,
    skeleton_segment_names,
)

IDENTITY = [1.0, 0.0, 0.0, 0.0]
# Columns of one DeepMimic frame: duration, root position (3), then per joint a quaternion or a hinge angle.
_JOINTS = ("root", "chest", "neck", "right_hip", "right_knee", "right_ankle", "right_shoulder", "right_elbow",
           "left_hip", "left_knee", "left_ankle", "left_shoulder", "left_elbow")  # fmt: skip
_HINGES = ("right_knee", "right_elbow", "left_knee", "left_elbow")


def _quaternion(axis: str, degrees: float) -> list[float]:
    """A DeepMimic quaternion (w, x, y, z) about the humanoid's x (forward), y (up) or z (right) axis."""
    half = math.radians(degrees) / 2.0
    vector = {"x": (1.0, 0.0, 0.0), "y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}[axis]
    return [math.cos(half), *(math.sin(half) * value for value in vector)]


def _frame(duration: float, height: float = 0.88, **joints: list[float] | float) -> list[float]:
    values = [duration, 0.0, height, 0.0]
    for joint in _JOINTS:
        default: list[float] | float = 0.0 if joint in _HINGES else IDENTITY
        value = joints.get(joint, default)
        values.extend(value if isinstance(value, list) else [value])
    assert len(values) == 44
    return values


def _clip(frames: list[list[float]], loop: str = "none") -> str:
    return json.dumps({"Loop": loop, "Frames": frames})


def test_the_library_has_fifteen_clips_that_all_load_at_thirty_fps() -> None:
    assert len(library_names()) == 15 and set(library_names()) == set(LIBRARY)
    for summary in library_summaries():
        clip = library_motion(summary.name)
        assert abs(clip.fps - MOTION_FPS) < 0.5, summary.name
        assert clip.frame_count == summary.frames >= 25
        assert abs(np.linalg.norm(clip.rotations, axis=-1) - 1.0).max() < 1e-9
        dots = np.sum(clip.rotations[1:] * clip.rotations[:-1], axis=-1)
        assert dots.min() >= 0.0, f"{summary.name}: quaternion signs flip between frames"
    with pytest.raises(MotionError, match="unknown motion 'moonwalk'"):
        library_motion("moonwalk")


def test_axes_and_sides_follow_the_documented_format() -> None:
    """A right arm raised sideways (-90 degrees about the humanoid's forward axis x, whose +Z is its right)
    ends on the character's right (-X); a right thigh raised forward (about its right axis) points forward (-Y)."""
    frames = [
        _frame(0.1, right_shoulder=_quaternion("x", -90.0), right_hip=_quaternion("z", 90.0)),
        _frame(0.0, right_shoulder=_quaternion("x", -90.0), right_hip=_quaternion("z", 90.0)),
    ]
    clip = deepmimic_motion(_clip(frames), "probe")
    assert np.allclose(clip.directions("RightArm")[0], [-1.0, 0.0, 0.0], atol=1e-9)
    assert np.allclose(clip.directions("RightUpLeg")[0], [0.0, -1.0, 0.0], atol=1e-9)
    assert np.allclose(clip.directions("LeftArm")[0], [0.0, 0.0, -1.0], atol=1e-9)
    assert clip.hip_height == pytest.approx(0.881416)


def test_knees_and_elbows_are_clamped_to_the_side_they_bend() -> None:
    """A knee angle above 0 would bend the shin forward of the thigh (backwards); an elbow below 0 overextends."""
    frames = [_frame(0.1, right_knee=0.4, left_knee=-0.6, right_elbow=-0.3), _frame(0.0, right_knee=0.4, left_knee=-0.6)]
    clip = deepmimic_motion(_clip(frames), "probe")
    assert np.allclose(clip.directions("RightLeg")[0], clip.directions("RightUpLeg")[0])
    assert np.allclose(clip.directions("RightForeArm")[0], clip.directions("RightArm")[0])
    shin, thigh = clip.directions("LeftLeg")[0], clip.directions("LeftUpLeg")[0]
    assert shin[1] > 0.5 and rotations.angle_between(shin, thigh) == pytest.approx(math.degrees(0.6))


def _knee_flexion_axis_dot(clip_name: str, side: str) -> np.ndarray:
    """Per frame, (thigh x shin) . (the thigh's own left axis): >= 0 when the knee bends the natural way."""
    clip = library_motion(clip_name)
    thigh = clip.directions(f"{side}UpLeg")
    shin = clip.directions(f"{side}Leg")
    left_axis = rotations.to_matrix(clip.rotations[:, clip.index(f"{side}UpLeg")]) @ np.array([1.0, 0.0, 0.0])
    return np.sum(np.cross(thigh, shin) * left_axis, axis=-1)


@pytest.mark.parametrize("name", ["spinkick", "getup_facedown", "dance_b", "walk"])
def test_library_knees_never_bend_backwards(name: str) -> None:
    for side in ("Left", "Right"):
        assert _knee_flexion_axis_dot(name, side).min() >= -1e-9


def test_resampling_goes_by_time_and_keeps_both_ends() -> None:
    """Frames of 0.1 s and 0.2 s: at 30 fps, the elbow angle grows linearly in time, not in frame number."""
    frames = [
        _frame(0.1, left_elbow=0.0),
        _frame(0.2, left_elbow=0.3),
        _frame(0.0, left_elbow=0.9),
    ]
    clip = deepmimic_motion(_clip(frames), "probe")
    assert clip.frame_count == 10 and clip.fps == pytest.approx(30.0)
    arm, forearm = clip.directions("LeftArm"), clip.directions("LeftForeArm")
    angles = np.radians(rotations.angle_between(arm, forearm))
    times = np.arange(10) / 30.0
    expected = np.interp(times, [0.0, 0.1, 0.3], [0.0, 0.3, 0.9])
    assert np.allclose(angles, expected, atol=1e-6)
    slower = resampled(clip, 10.0)
    assert slower.frame_count == 4 and np.allclose(slower.rotations[-1], clip.rotations[-1])
    bends = np.radians(rotations.angle_between(slower.directions("LeftArm"), slower.directions("LeftForeArm")))
    assert np.allclose(bends, [0.0, 0.3, 0.6, 0.9])


def test_a_clip_is_turned_to_face_minus_y_at_its_first_frame() -> None:
    turned = _quaternion("y", 70.0)
    frames = [_frame(0.1, root=turned), _frame(0.0, root=turned)]
    clip = deepmimic_motion(_clip(frames), "probe")
    pelvis = rotations.to_matrix(clip.rotations[0, clip.index("Hips")])
    assert np.allclose(pelvis @ [1.0, 0.0, 0.0], [1.0, 0.0, 0.0], atol=1e-9), "its left is +X"
    assert np.allclose(clip.root_positions[0], [0.0, 0.0, 0.88])


def test_library_clips_stand_on_the_floor_and_the_jump_leaves_it() -> None:
    walk, jump = library_motion("walk"), library_motion("jump")
    assert np.median(np.abs(walk.clearance)) < 0.02 and walk.clearance.max() < 0.03
    assert jump.clearance.max() > 0.15
    assert walk.root_positions[-1, 1] < -1.0, "the walk travels forward (-Y)"


def test_mirroring_swaps_sides_and_twice_is_the_original() -> None:
    walk = library_motion("kick")
    mirror = mirrored(walk)
    assert mirror.name == "kick_mirrored"
    flip = np.array([-1.0, 1.0, 1.0])
    for bone, other in (("LeftUpLeg", "RightUpLeg"), ("RightForeArm", "LeftForeArm"), ("Hips", "Hips")):
        assert np.allclose(mirror.directions(bone), walk.directions(other) * flip, atol=1e-9)
    kicking = walk.directions("RightUpLeg")[:, 2].max()
    assert mirror.directions("LeftUpLeg")[:, 2].max() == pytest.approx(kicking), "the left leg kicks in the mirror"
    twice = mirrored(mirror, "kick")
    for bone in walk.segments:
        assert np.allclose(twice.directions(bone), walk.directions(bone), atol=1e-9)


def test_cyclic_clips_close_their_loop() -> None:
    """The captured walk ends a few degrees away from its first pose; after clean-up its last frame
    repeats the first pose (turned by the clip's change of heading)."""
    walk = library_motion("walk")
    assert walk.loop
    pelvis = walk.index("Hips")
    turn = rotations.to_matrix(walk.rotations[-1, pelvis]) @ rotations.to_matrix(walk.rotations[0, pelvis]).T
    for bone in walk.segments:
        assert np.allclose(turn @ walk.directions(bone)[0], walk.directions(bone)[-1], atol=1e-9), bone
    assert walk.root_positions[-1, 2] == pytest.approx(walk.root_positions[0, 2])
    as_captured = json.loads(_library_text("walk"))
    as_captured["Loop"] = "none"
    open_walk = deepmimic_motion(json.dumps(as_captured), "walk")
    assert open_walk.frame_count == walk.frame_count
    mismatch = max(
        float(rotations.angle_between(open_walk.directions(bone)[-1], open_walk.directions(bone)[0])) for bone in walk.segments
    )
    assert mismatch > 2.0, "without the clean-up the captured cycle does not close"


def _library_text(name: str) -> str:
    from pose_factory_addon.core.motion import CLIPS_DIR

    return (CLIPS_DIR / LIBRARY[name][0]).read_text(encoding="utf-8")


def test_looping_continues_from_where_the_cycle_ended() -> None:
    walk = library_motion("walk")
    twice = looped(walk, 2)
    frames = walk.frame_count
    assert twice.frame_count == 2 * frames - 1
    assert np.allclose(twice.root_positions[: frames - 1], walk.root_positions[:-1])
    assert np.allclose(twice.root_positions[frames - 1], walk.root_positions[-1], atol=1e-9)
    assert twice.root_positions[-1, 1] < 1.9 * walk.root_positions[-1, 1], "the second cycle walks on"
    steps = np.linalg.norm(np.diff(twice.root_positions, axis=0), axis=1)
    assert steps.max() < 3.0 * np.median(steps), "no jump where the cycles meet"
    with pytest.raises(MotionError, match="not a cyclic clip"):
        looped(library_motion("kick"), 2)


def test_in_place_takes_the_travel_out() -> None:
    run = in_place(library_motion("run"))
    assert np.allclose(run.root_positions[-1, :2], run.root_positions[0, :2])
    assert np.abs(run.root_positions[:, :2]).max() < 0.3


def test_bad_clips_are_refused_with_a_reason() -> None:
    with pytest.raises(MotionError, match="not a DeepMimic clip"):
        deepmimic_motion("{}", "broken")
    with pytest.raises(MotionError, match="44 numbers"):
        deepmimic_motion(_clip([[0.1, 0.0, 0.0]] * 2), "short")
    with pytest.raises(MotionError, match="durations"):
        deepmimic_motion(_clip([_frame(-0.1), _frame(0.0)]), "backwards")


def _tpose_skeleton(names: dict[str, str]) -> tuple[list[str], list[int], np.ndarray]:
    """A T-pose skeleton (Y up, facing +Z, centimetres) whose joints are named by ``names`` (Mixamo name -> own)."""
    layout = [
        ("Hips", "", (0, 95, 0)), ("Spine", "Hips", (0, 10, 0)), ("Neck", "Spine", (0, 40, 0)), ("Head", "Neck", (0, 10, 0)),
        ("LeftArm", "Spine", (17, 35, 0)), ("LeftForeArm", "LeftArm", (28, 0, 0)), ("LeftHand", "LeftForeArm", (25, 0, 0)),
        ("RightArm", "Spine", (-17, 35, 0)), ("RightForeArm", "RightArm", (-28, 0, 0)),
        ("RightHand", "RightForeArm", (-25, 0, 0)),
        ("LeftUpLeg", "Hips", (9, -5, 0)), ("LeftLeg", "LeftUpLeg", (0, -42, 0)), ("LeftFoot", "LeftLeg", (0, -40, 0)),
        ("RightUpLeg", "Hips", (-9, -5, 0)), ("RightLeg", "RightUpLeg", (0, -42, 0)), ("RightFoot", "RightLeg", (0, -40, 0)),
    ]  # fmt: skip
    order = [name for name, _, _ in layout]
    heads: dict[str, np.ndarray] = {}
    for name, parent, offset in layout:
        heads[name] = (heads[parent] if parent else np.zeros(3)) + np.array(offset, dtype=float)
    return (
        [names.get(name, name) for name in order],
        [order.index(p) if p else -1 for _, p, _ in layout],
        np.array([heads[name] for name in order]),
    )


def test_skeleton_joints_are_found_by_mixamo_and_common_bvh_names() -> None:
    poser = {"LeftArm": "lShldr", "LeftForeArm": "lForeArm", "LeftHand": "lHand", "RightUpLeg": "RightHip",
             "RightLeg": "RightKnee", "RightFoot": "RightAnkle", "LeftUpLeg": "mixamorig:LeftUpLeg",
             "RightArm": "Armature:mixamorig1:RightArm", "Hips": "hip"}  # fmt: skip
    names, parents, _ = _tpose_skeleton(poser)
    roles = skeleton_segment_names(names, parents)
    for bone, own in poser.items():
        assert names[roles[bone]] == own, bone
    unnamed = {"LeftArm": "joint7", "RightUpLeg": "joint12"}
    names, parents, _ = _tpose_skeleton(unnamed)
    roles = skeleton_segment_names(names, parents)
    assert names[roles["LeftArm"]] == "joint7", "an unnamed upper arm is the parent of the forearm"
    assert names[roles["RightUpLeg"]] == "joint12"


def test_a_skeleton_clip_is_found_upright_facing_front_in_any_unit_and_orientation() -> None:
    """A T-pose skeleton in centimetres, tilted to arbitrary axes, raising its left arm by 90 degrees over a second."""
    names, parents, rest = _tpose_skeleton({})
    frames = 31
    heads = np.repeat(rest[None], frames, axis=0)
    turns = np.repeat(np.eye(3)[None, None], frames, axis=0).repeat(len(names), axis=1)
    angles = np.radians(np.linspace(0.0, 90.0, frames))
    arm = [names.index(name) for name in ("LeftArm", "LeftForeArm", "LeftHand")]
    for frame, angle in enumerate(angles):
        raise_arm = rotations.to_matrix(rotations.axis_angle((0.0, 0.0, 1.0), angle))
        for index in arm:
            turns[frame, index] = raise_arm
            heads[frame, index] = rest[arm[0]] + raise_arm @ (rest[index] - rest[arm[0]])
    tilt = rotations.to_matrix(rotations.axis_angle((0.6, 0.0, 0.8), 2.0))  # the file's axes are none of ours
    rest, heads, turns = rest @ tilt.T, heads @ tilt.T, tilt @ turns @ tilt.T
    clip = skeleton_motion("raise", 30.0, names, parents, rest, heads, turns)
    assert clip.hip_height == pytest.approx(82.0), "hip joints 90 cm up, the lowest joint (the ankles) 8 cm up"
    assert np.allclose(clip.directions("LeftArm")[0], [1.0, 0.0, 0.0], atol=1e-9), "rest: the left arm points to +X"
    assert np.allclose(clip.directions("LeftArm")[-1], [0.0, 0.0, 1.0], atol=1e-9), "raised straight up"
    assert np.allclose(clip.directions("LeftUpLeg")[0], [0.0, 0.0, -1.0], atol=1e-9)
    missing = names.index("RightFoot")
    names[missing] = "something"
    with pytest.raises(MotionError, match="RightFoot"):
        skeleton_motion("broken", 30.0, names, parents, rest, heads, turns)
