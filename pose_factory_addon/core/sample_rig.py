"""The sample mannequin's skeleton, body shapes and procedural motions, in plain numpy.

This is the ground truth behind the sample characters in ``samples/characters/``: the bpy
layer (:mod:`pose_factory_addon.render.sample_characters`) builds armatures and actions from
it, and tests compare rendered labels against :func:`joint_positions`.

Conventions (the same as a Mixamo character after Blender imports it and the renderer
normalises it): world space in metres, +Z up, the character faces -Y and stands on z = 0
centred on the origin; "Left" is the character's own left, which is +X. The rest pose is a
T-pose with palms down (thumbs point forward, -Y), or with ``rest_pose="apose"`` an A-pose whose
arms hang :data:`APOSE_ARM_DOWN_DEG` below the horizontal (as generated and many scanned characters
are rigged). Bone names are Mixamo's without the ``mixamorig:`` prefix (:data:`MIXAMO_PREFIX` is
added by the bpy layer).

Rotations of a motion are "rest-axes local rotations": a 3x3 rotation per bone, expressed in
world axes at rest and applied about the bone's head after its parent's rotation, so a
bone's posed orientation is ``G_bone = G_parent @ R_bone`` and its posed head is
``p_parent + G_parent @ (rest_head - rest_head_parent)``. The motions are written for the T-pose;
on an A-pose skeleton :func:`frame_pose` converts them so every frame shows the same world pose.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from .skeletons import MIXAMO_LANDMARK_SOURCES

Vector = npt.NDArray[np.float64]  # shape [3], metres
Rotation = npt.NDArray[np.float64]  # shape [3, 3]

MIXAMO_PREFIX: Final = "mixamorig:"
FINGERS: Final = ("Thumb", "Index", "Middle", "Ring", "Pinky")
REST_POSES: Final = ("tpose", "apose")
APOSE_ARM_DOWN_DEG: Final = 45.0  # how far below the horizontal the A-pose's arms hang at rest


@dataclass(frozen=True)
class BodyShape:
    """Proportions of one mannequin: height in metres and unitless width/girth factors."""

    name: str
    height_m: float
    shoulder_width: float  # scales the X offsets of shoulders and hips
    limb_girth: float  # scales limb radii
    torso_width: float  # scales the torso's X radius
    torso_depth: float  # scales the torso's Y radius
    belly: float  # extra forward depth of the waist, metres at 1.75 m height


BODY_SHAPES: Final = {
    "slim": BodyShape("slim", 1.82, 0.95, 0.82, 0.88, 0.85, 0.0),
    "average": BodyShape("average", 1.75, 1.0, 1.0, 1.0, 1.0, 0.0),
    "heavy": BodyShape("heavy", 1.68, 1.08, 1.3, 1.22, 1.3, 0.05),
}


@dataclass(frozen=True)
class Bone:
    """One bone of the rest skeleton: head and tail in world metres, parent name or ''."""

    name: str
    parent: str
    head: tuple[float, float, float]
    tail: tuple[float, float, float]


# Rest joint positions of the average (1.75 m) mannequin, left side only; scaled per shape.
# Values are (x, y, z) in metres; x of sided joints is scaled by the shape's shoulder width.
_REFERENCE_HEIGHT: Final = 1.75
_CENTRE_JOINTS: Final = {
    "Hips": (0.0, 0.0, 0.98),
    "Spine": (0.0, 0.0, 1.05),
    "Spine1": (0.0, 0.0, 1.165),
    "Spine2": (0.0, 0.0, 1.28),
    "Neck": (0.0, 0.0, 1.46),
    "Head": (0.0, 0.0, 1.54),
    "HeadTop_End": (0.0, 0.0, 1.75),
}
_LEFT_JOINTS: Final = {
    "LeftShoulder": (0.035, 0.0, 1.435),
    "LeftArm": (0.17, 0.0, 1.42),
    "LeftForeArm": (0.46, 0.0, 1.42),
    "LeftHand": (0.71, 0.0, 1.42),
    "LeftUpLeg": (0.095, 0.0, 0.89),
    "LeftLeg": (0.095, 0.0, 0.5),
    "LeftFoot": (0.095, 0.0, 0.085),
    "LeftToeBase": (0.1, -0.125, 0.025),
    "LeftToe_End": (0.1, -0.2, 0.025),
}
# Finger joints relative to the wrist (x along the arm, -y towards the thumb side).
_FINGER_BASES: Final = {
    "Thumb": (0.022, -0.024, -0.012),
    "Index": (0.095, -0.024, 0.0),
    "Middle": (0.098, -0.007, 0.0),
    "Ring": (0.093, 0.01, 0.0),
    "Pinky": (0.084, 0.026, 0.0),
}
_FINGER_DIRECTIONS: Final = {
    "Thumb": (0.62, -0.72, -0.3),
    "Index": (1.0, -0.05, 0.0),
    "Middle": (1.0, 0.0, 0.0),
    "Ring": (1.0, 0.04, 0.0),
    "Pinky": (1.0, 0.09, 0.0),
}
_PHALANX_LENGTHS: Final = {
    "Thumb": (0.034, 0.03, 0.026),
    "Index": (0.042, 0.025, 0.021),
    "Middle": (0.046, 0.028, 0.022),
    "Ring": (0.043, 0.026, 0.021),
    "Pinky": (0.033, 0.02, 0.019),
}
_LEAF_LENGTH: Final = 0.03
# Centre of the left eyeball relative to the Head bone's head on the 1.75 m mannequin (metres); the eye
# bones of a rig with eyes (``LeftEye``/``RightEye``, as some Mixamo characters have) start there.
EYE_CENTRE: Final = (0.032, -0.083, 0.085)
_EYE_BONE_LENGTH: Final = 0.025


def _vec(values: tuple[float, float, float] | Vector) -> Vector:
    return np.asarray(values, dtype=np.float64)


def _tuple(vector: Vector) -> tuple[float, float, float]:
    return (float(vector[0]), float(vector[1]), float(vector[2]))


def mirror_name(name: str) -> str:
    """The other side's bone name: ``LeftArm`` <-> ``RightArm``; centre bones unchanged."""
    if name.startswith("Left"):
        return "Right" + name[4:]
    if name.startswith("Right"):
        return "Left" + name[5:]
    return name


def _left_joint_heads(shape: BodyShape) -> dict[str, Vector]:
    """Heads of every left-side and centre bone for a shape, metres.

    Everything scales with height; the shoulders and hips also spread with the shape's
    width, and the arm and hand keep their lengths (they hang off the shoulder joint).
    """
    scale = shape.height_m / _REFERENCE_HEIGHT
    reference = {name: _vec(position) for name, position in {**_CENTRE_JOINTS, **_LEFT_JOINTS}.items()}
    heads = {name: position * scale for name, position in reference.items()}
    for name in ("LeftShoulder", "LeftArm", "LeftUpLeg", "LeftLeg", "LeftFoot", "LeftToeBase", "LeftToe_End"):
        heads[name][0] *= shape.shoulder_width
    for name in ("LeftForeArm", "LeftHand"):
        heads[name] = heads["LeftArm"] + (reference[name] - reference["LeftArm"]) * scale
    wrist = heads["LeftHand"]
    for finger in FINGERS:
        direction = _vec(_FINGER_DIRECTIONS[finger])
        direction /= np.linalg.norm(direction)
        joint = wrist + _vec(_FINGER_BASES[finger]) * scale
        heads[f"LeftHand{finger}1"] = joint
        for index, length in enumerate(_PHALANX_LENGTHS[finger], start=2):
            joint = joint + direction * length * scale
            heads[f"LeftHand{finger}{index}"] = joint
    return heads


_CHILD_FOR_TAIL: Final = {
    "Hips": "Spine",
    "Spine": "Spine1",
    "Spine1": "Spine2",
    "Spine2": "Neck",
    "Neck": "Head",
    "Head": "HeadTop_End",
    "LeftShoulder": "LeftArm",
    "LeftArm": "LeftForeArm",
    "LeftForeArm": "LeftHand",
    "LeftHand": "LeftHandMiddle1",
    "LeftUpLeg": "LeftLeg",
    "LeftLeg": "LeftFoot",
    "LeftFoot": "LeftToeBase",
    "LeftToeBase": "LeftToe_End",
    **{f"LeftHand{finger}{index}": f"LeftHand{finger}{index + 1}" for finger in FINGERS for index in (1, 2, 3)},
}
_LEFT_PARENTS: Final = {
    "Hips": "",
    "Spine": "Hips",
    "Spine1": "Spine",
    "Spine2": "Spine1",
    "Neck": "Spine2",
    "Head": "Neck",
    "HeadTop_End": "Head",
    "LeftShoulder": "Spine2",
    "LeftArm": "LeftShoulder",
    "LeftForeArm": "LeftArm",
    "LeftHand": "LeftForeArm",
    "LeftUpLeg": "Hips",
    "LeftLeg": "LeftUpLeg",
    "LeftFoot": "LeftLeg",
    "LeftToeBase": "LeftFoot",
    "LeftToe_End": "LeftToeBase",
    **{f"LeftHand{finger}1": "LeftHand" for finger in FINGERS},
    **{f"LeftHand{finger}{index}": f"LeftHand{finger}{index - 1}" for finger in FINGERS for index in (2, 3, 4)},
}


def skeleton(shape_name: str, eye_bones: bool = False, rest_pose: str = "tpose") -> dict[str, Bone]:
    """The rest skeleton of a body shape, parents before children (Mixamo's 65 bones).

    Leaf bones (``HeadTop_End``, ``*Toe_End``, ``*Hand*4``) continue their parent's
    direction by 3 cm, like Mixamo's end joints. ``eye_bones`` adds ``LeftEye`` and
    ``RightEye`` (children of ``Head``, from the eyeball centre forward), 67 bones in all.
    ``rest_pose="apose"`` lowers each arm (upper arm, forearm, hand, fingers) about its shoulder
    joint by :data:`APOSE_ARM_DOWN_DEG`; everything else is the T-pose's.
    """
    turns = rest_pose_rotations(rest_pose)
    shape = body_shape(shape_name)
    left_heads = _left_joint_heads(shape)
    bones: dict[str, Bone] = {}
    for name, parent in _LEFT_PARENTS.items():
        head = left_heads[name]
        if name in _CHILD_FOR_TAIL:
            tail = left_heads[_CHILD_FOR_TAIL[name]]
        else:
            parent_direction = head - left_heads[parent]
            tail = head + parent_direction / np.linalg.norm(parent_direction) * _LEAF_LENGTH
        bones[name] = Bone(name, parent, _tuple(head), _tuple(tail))
    for name, bone in list(bones.items()):
        if name.startswith("Left"):
            mirrored = mirror_name(name)
            bones[mirrored] = Bone(
                mirrored,
                mirror_name(bone.parent),
                (-bone.head[0], bone.head[1], bone.head[2]),
                (-bone.tail[0], bone.tail[1], bone.tail[2]),
            )
    if eye_bones:
        scale = shape.height_m / _REFERENCE_HEIGHT
        for side, sign in (("Left", 1.0), ("Right", -1.0)):
            centre = _vec(bones["Head"].head) + _vec((sign * EYE_CENTRE[0], EYE_CENTRE[1], EYE_CENTRE[2])) * scale
            tail = centre + _vec((0.0, -_EYE_BONE_LENGTH * scale, 0.0))
            bones[f"{side}Eye"] = Bone(f"{side}Eye", "Head", _tuple(centre), _tuple(tail))
    if turns:
        bones = {name: _rest_turned(bone, bones, turns) for name, bone in bones.items()}
    return _parents_first(bones)


def rest_pose_rotations(rest_pose: str) -> dict[str, Rotation]:
    """The world rotation [3, 3] of each bone's rest orientation relative to the T-pose, for the bones
    ``rest_pose`` turns (empty for the T-pose): the arm chains of the A-pose, about each shoulder joint."""
    if rest_pose not in REST_POSES:
        raise ValueError(f"unknown rest pose {rest_pose!r} (choose from {', '.join(REST_POSES)})")
    if rest_pose == "tpose":
        return {}
    left = rotation("y", APOSE_ARM_DOWN_DEG)
    chain = ["LeftArm", "LeftForeArm", "LeftHand"] + [f"LeftHand{finger}{index}" for finger in FINGERS for index in (1, 2, 3, 4)]
    return _symmetric({name: left for name in chain})


def turned_point(point: Vector, bone: str, tpose_bones: dict[str, Bone], turns: dict[str, Rotation]) -> Vector:
    """Where a T-pose point moving with ``bone`` is in a rest pose whose bones are turned by ``turns``
    (from :func:`rest_pose_rotations`): rotated about the joint where the turned chain starts."""
    if bone not in turns:
        return _vec(point)
    pivot = bone
    while tpose_bones[pivot].parent in turns:
        pivot = tpose_bones[pivot].parent
    centre = _vec(tpose_bones[pivot].head)
    return centre + turns[bone] @ (_vec(point) - centre)


def _rest_turned(bone: Bone, tpose_bones: dict[str, Bone], turns: dict[str, Rotation]) -> Bone:
    head = turned_point(_vec(bone.head), bone.name, tpose_bones, turns)
    tail = turned_point(_vec(bone.tail), bone.name, tpose_bones, turns)
    return Bone(bone.name, bone.parent, _tuple(head), _tuple(tail))


def _parents_first(bones: dict[str, Bone]) -> dict[str, Bone]:
    ordered: dict[str, Bone] = {}
    while len(ordered) < len(bones):
        for name, bone in bones.items():
            if name not in ordered and (not bone.parent or bone.parent in ordered):
                ordered[name] = bone
    return ordered


def body_shape(name: str) -> BodyShape:
    """Look up a body shape (``slim``, ``average``, ``heavy``)."""
    try:
        return BODY_SHAPES[name]
    except KeyError:
        raise ValueError(f"unknown body shape {name!r} (choose from {', '.join(BODY_SHAPES)})") from None


def rotation(axis: str, degrees: float) -> Rotation:
    """A right-handed rotation about a world axis (``x``, ``y`` or ``z``) by ``degrees``."""
    angle = math.radians(degrees)
    c, s = math.cos(angle), math.sin(angle)
    matrices = {
        "x": ((1.0, 0.0, 0.0), (0.0, c, -s), (0.0, s, c)),
        "y": ((c, 0.0, s), (0.0, 1.0, 0.0), (-s, 0.0, c)),
        "z": ((c, -s, 0.0), (s, c, 0.0), (0.0, 0.0, 1.0)),
    }
    return np.array(matrices[axis], dtype=np.float64)


@dataclass(frozen=True)
class Pose:
    """One frame of a motion: rest-axes local rotations per bone and the Hips translation (metres)."""

    rotations: dict[str, Rotation]
    hips_offset: Vector


@dataclass(frozen=True)
class Motion:
    """A procedural clip: frames ``1..frame_count``; ``pose_at`` gets the phase in [0, 1) and the skeleton."""

    name: str
    frame_count: int
    description: str
    pose_at: Callable[[float, dict[str, Bone]], Pose]


def _mirror_rotation(matrix: Rotation) -> Rotation:
    """The same rotation seen in the mirror x -> -x (used to build right-side poses)."""
    flip: Rotation = np.diag([-1.0, 1.0, 1.0])
    mirrored: Rotation = flip @ matrix @ flip
    return mirrored


def _symmetric(left: dict[str, Rotation]) -> dict[str, Rotation]:
    both = dict(left)
    for name, matrix in left.items():
        both[mirror_name(name)] = _mirror_rotation(matrix)
    return both


_ARMS_DOWN_DEG: Final = 75.0


def _tpose(phase: float, bones: dict[str, Bone]) -> Pose:
    return Pose({}, np.zeros(3))


def _still(phase: float, bones: dict[str, Bone]) -> Pose:
    rotations = _symmetric({"LeftArm": rotation("y", _ARMS_DOWN_DEG), "LeftForeArm": rotation("z", -8.0)})
    return Pose(rotations, np.zeros(3))


def _walk(phase: float, bones: dict[str, Bone]) -> Pose:
    angle = 2.0 * math.pi * phase
    stride = math.sin(angle)
    left_swing = max(0.0, math.cos(angle))
    right_swing = max(0.0, -math.cos(angle))
    rotations = {
        "LeftUpLeg": rotation("x", -24.0 * stride - 10.0 * left_swing),
        "RightUpLeg": rotation("x", 24.0 * stride - 10.0 * right_swing),
        "LeftLeg": rotation("x", 6.0 + 45.0 * left_swing),
        "RightLeg": rotation("x", 6.0 + 45.0 * right_swing),
        "LeftFoot": rotation("x", -6.0 - 10.0 * left_swing),
        "RightFoot": rotation("x", -6.0 - 10.0 * right_swing),
        "LeftArm": rotation("x", 22.0 * stride) @ rotation("y", _ARMS_DOWN_DEG),
        "RightArm": rotation("x", -22.0 * stride) @ rotation("y", -_ARMS_DOWN_DEG),
        "LeftForeArm": rotation("z", -12.0 - 10.0 * max(0.0, -stride)),
        "RightForeArm": rotation("z", 12.0 + 10.0 * max(0.0, stride)),
        "Spine": rotation("z", 4.0 * stride),
        "Spine2": rotation("z", -6.0 * stride),
    }
    return Pose(rotations, np.zeros(3))


def _squat(phase: float, bones: dict[str, Bone]) -> Pose:
    depth = (1.0 - math.cos(2.0 * math.pi * phase)) / 2.0
    thigh_deg, shin_deg = 100.0 * depth, 35.0 * depth
    left = {
        "LeftUpLeg": rotation("x", -thigh_deg),
        "LeftLeg": rotation("x", thigh_deg + shin_deg),
        "LeftFoot": rotation("x", -shin_deg),
        "LeftArm": rotation("z", -85.0 * depth) @ rotation("y", _ARMS_DOWN_DEG * (1.0 - depth)),
    }
    rotations = _symmetric(left)
    rotations["Spine"] = rotation("x", 18.0 * depth)
    rotations["Spine1"] = rotation("x", 12.0 * depth)
    rotations["Neck"] = rotation("x", -15.0 * depth)
    thigh = np.linalg.norm(_vec(bones["LeftLeg"].head) - _vec(bones["LeftUpLeg"].head))
    shin = np.linalg.norm(_vec(bones["LeftFoot"].head) - _vec(bones["LeftLeg"].head))
    backwards = thigh * math.sin(math.radians(thigh_deg)) - shin * math.sin(math.radians(shin_deg))
    return Pose(rotations, np.array([0.0, backwards, 0.0]))


def _wave(phase: float, bones: dict[str, Bone]) -> Pose:
    """A greeting wave: the right upper arm out to the side and a little forward, the forearm up, swinging
    side to side; the head turns slightly toward the hand."""
    swing = math.sin(2.0 * math.pi * phase)
    rotations = {
        "LeftArm": rotation("y", _ARMS_DOWN_DEG + 3.0),
        "LeftForeArm": rotation("z", -10.0),
        "RightArm": rotation("z", 20.0) @ rotation("y", 5.0),
        "RightForeArm": rotation("y", 80.0 + 20.0 * swing),
        "RightHand": rotation("y", 10.0 * swing),
        "Neck": rotation("y", 6.0),
        "Head": rotation("z", -10.0),
    }
    return Pose(rotations, np.zeros(3))


def _jumping_jack(phase: float, bones: dict[str, Bone]) -> Pose:
    angle = 2.0 * math.pi * phase
    open_amount = (1.0 - math.cos(angle)) / 2.0
    left = {
        "LeftArm": rotation("y", _ARMS_DOWN_DEG - 160.0 * open_amount),
        "LeftUpLeg": rotation("y", -13.0 * open_amount),
        "LeftFoot": rotation("y", 13.0 * open_amount),
    }
    hop = 0.06 * abs(math.sin(angle))
    return Pose(_symmetric(left), np.array([0.0, 0.0, hop]))


def _hand_behind_back(phase: float, bones: dict[str, Bone]) -> Pose:
    rotations = {
        "LeftArm": rotation("y", _ARMS_DOWN_DEG),
        "LeftForeArm": rotation("z", -8.0),
        "RightArm": rotation("x", 20.0) @ rotation("y", -80.0),
        "RightForeArm": rotation("y", -60.0),
    }
    return Pose(rotations, np.zeros(3))


def _crossed_arms(phase: float, bones: dict[str, Bone]) -> Pose:
    rotations = {
        "LeftArm": rotation("z", -80.0) @ rotation("y", 55.0),
        "LeftForeArm": rotation("y", 40.0) @ rotation("z", -100.0),
        "RightArm": rotation("z", 100.0) @ rotation("y", -55.0),
        "RightForeArm": rotation("y", 40.0) @ rotation("z", 70.0),
    }
    return Pose(rotations, np.zeros(3))


def _point_forward(phase: float, bones: dict[str, Bone]) -> Pose:
    rotations = {"LeftArm": rotation("y", _ARMS_DOWN_DEG), "LeftForeArm": rotation("z", -8.0), "RightArm": rotation("z", 90.0)}
    return Pose(rotations, np.zeros(3))


MOTIONS: Final = {
    "tpose": Motion("tpose", 1, "the rest T-pose, palms down", _tpose),
    "still": Motion("still", 1, "standing with arms relaxed at the sides", _still),
    "walk": Motion(
        "walk",
        32,
        "walk in place; frame 9 left leg forward and right arm forward, frame 25 right leg forward",
        _walk,
    ),
    "squat": Motion("squat", 40, "squat with arms forward; frame 1 standing, frame 21 deepest", _squat),
    "wave": Motion(
        "wave",
        32,
        "the character's RIGHT hand waves beside the head (forearm up) in every frame, left arm hangs down",
        _wave,
    ),
    "jumping_jack": Motion(
        "jumping_jack", 24, "frame 1 closed (arms down, feet together), frame 13 open (arms up, legs apart)", _jumping_jack
    ),
    "hand_behind_back": Motion(
        "hand_behind_back", 1, "the RIGHT hand rests behind the lower back, the left arm hangs down", _hand_behind_back
    ),
    "crossed_arms": Motion("crossed_arms", 1, "forearms crossed in front of the chest, left forearm above", _crossed_arms),
    "point_forward": Motion(
        "point_forward", 1, "the RIGHT arm points straight forward (-Y) at shoulder height, the left hangs down", _point_forward
    ),
}


def motion(name: str) -> Motion:
    """Look up a motion (``tpose``, ``still``, ``walk``, ``squat``, ``wave``, ``jumping_jack``)."""
    try:
        return MOTIONS[name]
    except KeyError:
        raise ValueError(f"unknown motion {name!r} (choose from {', '.join(MOTIONS)})") from None


def _sole_points(bones: dict[str, Bone]) -> list[tuple[str, Vector]]:
    """Rest points on the soles (heel, ball, toe tip) and the bone each moves with."""
    points: list[tuple[str, Vector]] = []
    for side in ("Left", "Right"):
        ankle = _vec(bones[f"{side}Foot"].head)
        ball = _vec(bones[f"{side}ToeBase"].head)
        toe = _vec(bones[f"{side}Toe_End"].head)
        points.append((f"{side}Foot", np.array([ankle[0], ankle[1] + heel_offset(bones), 0.0])))
        points.append((f"{side}Foot", np.array([ball[0], ball[1], 0.0])))
        points.append((f"{side}ToeBase", np.array([toe[0], toe[1], 0.0])))
    return points


def heel_offset(bones: dict[str, Bone]) -> float:
    """How far the heel reaches behind the ankle (+Y), metres, for this skeleton's size."""
    return 0.06 * bones["HeadTop_End"].head[2] / _REFERENCE_HEIGHT


def frame_pose(shape_name: str, motion_name: str, frame: int, rest_pose: str = "tpose") -> Pose:
    """The pose at an integer frame (1-based; frames past the end wrap around, clips loop).

    The Hips offset includes grounding: the lowest sole point touches z = 0 except during
    the jumping jack's hop. On an A-pose skeleton (``rest_pose``) the rotations are converted so
    the posed bones are exactly where they are on the T-pose skeleton.
    """
    clip = motion(motion_name)
    bones = skeleton(shape_name)
    phase = ((frame - 1) % clip.frame_count) / clip.frame_count
    pose = clip.pose_at(phase, bones)
    hop = pose.hips_offset[2]
    flat = Pose(pose.rotations, np.array([pose.hips_offset[0], pose.hips_offset[1], 0.0]))
    orientations, heads = _forward_kinematics(bones, flat)
    lowest = min(
        float((heads[name] + orientations[name] @ (point - _vec(bones[name].head)))[2]) for name, point in _sole_points(bones)
    )
    grounded = Pose(pose.rotations, np.array([pose.hips_offset[0], pose.hips_offset[1], hop - lowest]))
    return _for_rest_pose(grounded, bones, rest_pose)


def _for_rest_pose(pose: Pose, bones: dict[str, Bone], rest_pose: str) -> Pose:
    """A T-pose skeleton's pose rewritten for a skeleton whose rest bones are turned (``G' = G @ T^T``
    for each bone's turn ``T``, so the local rotation becomes ``T_parent @ R @ T^T``)."""
    turns = rest_pose_rotations(rest_pose)
    if not turns:
        return pose
    identity = np.eye(3)
    converted: dict[str, Rotation] = {}
    for name, bone in bones.items():
        local = turns.get(bone.parent, identity) @ pose.rotations.get(name, identity) @ turns.get(name, identity).T
        if not np.allclose(local, identity, atol=1e-12):
            converted[name] = local
    return Pose(converted, pose.hips_offset)


def _forward_kinematics(bones: dict[str, Bone], pose: Pose) -> tuple[dict[str, Rotation], dict[str, Vector]]:
    orientations: dict[str, Rotation] = {}
    heads: dict[str, Vector] = {}
    identity = np.eye(3)
    for name, bone in bones.items():
        local = pose.rotations.get(name, identity)
        if bone.parent:
            parent_orientation = orientations[bone.parent]
            offset = _vec(bone.head) - _vec(bones[bone.parent].head)
            heads[name] = heads[bone.parent] + parent_orientation @ offset
            orientations[name] = parent_orientation @ local
        else:
            heads[name] = _vec(bone.head) + pose.hips_offset
            orientations[name] = local
    return orientations, heads


def posed_bones(
    shape_name: str, motion_name: str, frame: int, rest_pose: str = "tpose"
) -> tuple[dict[str, Rotation], dict[str, Vector]]:
    """World orientation ``[3, 3]`` (rest axes of the ``rest_pose`` skeleton to posed axes) and head
    ``[3]`` (metres) of every bone; the heads do not depend on the rest pose."""
    return _forward_kinematics(skeleton(shape_name, rest_pose=rest_pose), frame_pose(shape_name, motion_name, frame, rest_pose))


def joint_positions(shape_name: str, motion_name: str, frame: int) -> dict[str, Vector]:
    """Posed world-space head of every bone, metres, keyed by Mixamo name without prefix."""
    return posed_bones(shape_name, motion_name, frame)[1]


def posed_point(shape_name: str, motion_name: str, frame: int, bone: str, rest_point: Vector) -> Vector:
    """Where a rest-pose point rigidly attached to ``bone`` is at ``frame`` (world metres)."""
    orientations, heads = posed_bones(shape_name, motion_name, frame)
    rest_head = _vec(skeleton(shape_name)[bone].head)
    return heads[bone] + orientations[bone] @ (_vec(rest_point) - rest_head)


def known_joint_positions(shape_name: str, motion_name: str, frame: int) -> dict[str, Vector]:
    """Posed world heads (metres ``[3]``) of the landmark bones of
    :data:`pose_factory_addon.core.skeletons.MIXAMO_LANDMARK_SOURCES` plus ``Head`` and
    ``HeadTop_End``, keyed by Mixamo bone name without prefix."""
    heads = joint_positions(shape_name, motion_name, frame)
    names = {"Head", "HeadTop_End"} | {source.bone for source in MIXAMO_LANDMARK_SOURCES.values() if source.kind == "bone_head"}
    return {name: heads[name] for name in sorted(names)}
