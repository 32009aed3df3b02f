"""Motion clips as plain numpy data: the bundled library, skeletons sampled from BVH files, clean-up,
resampling, looping, in-place and mirroring. No bpy (Blender reads BVH files and writes actions in
:mod:`pose_factory_addon.render.retarget`; the mapping onto a rig is :mod:`pose_factory_addon.core.retarget`).

A :class:`Motion` describes a performer, not a rig: for each of its segments (pelvis, chest, head,
upper arms, forearms, thighs, shins, feet; each named after the Mixamo bone it drives) the world
rotation per frame relative to the segment's rest orientation, the segment's rest direction, the
pelvis trajectory and how high the body's lowest point is above the floor. World axes are the
renderer's (+Z up; at the first frame the performer faces -Y with its own left on +X and its pelvis
above the origin), so a segment's posed direction is ``rotation @ rest_direction`` whatever rest pose
(arms down, T-pose) the source had.

The library is the DeepMimic humanoid's clips as pybullet ships them (``motion_clips/``, see its
``NOTICE.md``): per frame 44 numbers, the frame's duration (s), the root position (metres, Y up), the
root orientation and the local rotations of chest, neck, right hip, knee, ankle, shoulder, elbow and
the same on the left (quaternions ``w, x, y, z``; knees and elbows are one hinge angle in radians
about the joint's +Z). The humanoid's axes are +X forward, +Y up, +Z to its right; its URDF is four
times life size, its clips are in metres.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt

from . import rotations
from .errors import MotionError
from .sample_rig import mirror_name
from .skeletons import canonical_bone_name

FloatArray = npt.NDArray[np.float64]

MOTION_FPS: Final = 30.0  # frames per second of every retargeted clip (Mixamo's rate)
MIRROR_SUFFIX: Final = "_mirrored"
MAX_MOTIONS_PER_JOB: Final = 64  # motions one job may retarget onto every character
CLIPS_DIR: Final = Path(__file__).resolve().with_name("motion_clips")

# name: (file in CLIPS_DIR, what the clip shows)
LIBRARY: Final = {
    "walk": ("humanoid3d_walk.txt", "walking forward, one gait cycle"),
    "run": ("humanoid3d_run.txt", "running forward, one stride cycle"),
    "jump": ("humanoid3d_jump.txt", "a standing broad jump forward"),
    "dance_a": ("humanoid3d_dance_a.txt", "dance steps, bending forward and swinging the arms"),
    "dance_b": ("humanoid3d_dance_b.txt", "dance steps with arm throws"),
    "backflip": ("humanoid3d_backflip.txt", "a standing back flip"),
    "cartwheel": ("humanoid3d_cartwheel.txt", "a cartwheel to the side"),
    "crawl": ("humanoid3d_crawl.txt", "crawling low on the floor, on forearms and knees"),
    "kick": ("humanoid3d_kick.txt", "a high kick with the right leg"),
    "punch": ("humanoid3d_punch.txt", "a punch combination, stepping forward"),
    "roll": ("humanoid3d_roll.txt", "a forward roll on the floor"),
    "spin": ("humanoid3d_spin.txt", "a spinning aerial: the body turns level in the air, two full turns in all"),
    "spinkick": ("humanoid3d_spinkick.txt", "a spinning jump kick"),
    "getup_faceup": ("humanoid3d_getup_faceup.txt", "getting up from lying on the back"),
    "getup_facedown": ("humanoid3d_getup_facedown.txt", "getting up from lying face down"),
}
LIBRARY_SOURCE: Final = "DeepMimic humanoid clips (CMU and SFU motion capture) from pybullet_data, zlib licence"


@dataclass(frozen=True)
class Motion:
    """A performer's clip in world axes (+Z up, facing -Y at frame 0, left = +X); ``F`` frames, ``S`` segments.

    ``segments`` are the Mixamo bone names the segments drive (``Hips``, ``Spine2``, ``Head``,
    ``LeftArm``, ``LeftForeArm``, ``LeftUpLeg``, ``LeftLeg``, ``LeftFoot``, ... as the source has them).
    ``rest_directions`` [S, 3] are unit vectors along each segment at rest (towards its child joint).
    ``rotations`` [F, S, 4] are unit quaternions ``(w, x, y, z)``: the world rotation from the
    segment's rest orientation to its posed one. ``root_positions`` [F, 3] is the pelvis centre
    (midway between the hip joints) and ``clearance`` [F] the height of the body's lowest point, both
    above the floor (z = 0) in the source's length unit, the unit of ``hip_height`` (the pelvis
    centre's height at rest). ``loop``: the last frame repeats the first pose (a cycle).
    """

    name: str
    fps: float
    loop: bool
    segments: tuple[str, ...]
    rest_directions: FloatArray
    rotations: FloatArray
    root_positions: FloatArray
    clearance: FloatArray
    hip_height: float
    source: str = ""

    @property
    def frame_count(self) -> int:
        return int(self.rotations.shape[0])

    @property
    def duration_s(self) -> float:
        """Seconds from the first to the last frame."""
        return (self.frame_count - 1) / self.fps

    def index(self, segment: str) -> int:
        """Position of ``segment`` in :attr:`segments`; ``KeyError`` when the source has no such segment."""
        try:
            return self.segments.index(segment)
        except ValueError:
            raise KeyError(segment) from None

    def matrices(self) -> FloatArray:
        """World rotation matrices [F, S, 3, 3] of every segment."""
        return rotations.to_matrix(self.rotations)

    def directions(self, segment: str) -> FloatArray:
        """Unit direction [F, 3] of ``segment`` in every frame (world axes)."""
        index = self.index(segment)
        return np.asarray(rotations.to_matrix(self.rotations[:, index]) @ self.rest_directions[index])


@dataclass(frozen=True)
class ClipSummary:
    """One library clip as ``pose-factory motions list`` shows it."""

    name: str
    frames: int
    duration_s: float
    loop: bool
    description: str


# The DeepMimic humanoid (pybullet_data/humanoid/humanoid.urdf): joint, parent, offset from the parent joint in URDF
# units (x forward, y up, z right), kind, first column of the joint in a clip frame, Mixamo bone driven, rest direction.
_DEEPMIMIC_JOINTS: Final = (
    ("root", "", (0.0, 0.0, 0.0), "free", 4, "Hips", (0.0, 1.0, 0.0)),
    ("chest", "root", (0.0, 0.944604, 0.0), "ball", 8, "Spine2", (0.0, 1.0, 0.0)),
    ("neck", "chest", (0.0, 0.895576, 0.0), "ball", 12, "Head", (0.0, 1.0, 0.0)),
    ("right_hip", "root", (0.0, 0.0, 0.339548), "ball", 16, "RightUpLeg", (0.0, -1.0, 0.0)),
    ("right_knee", "right_hip", (0.0, -1.686184, 0.0), "knee", 20, "RightLeg", (0.0, -1.0, 0.0)),
    ("right_ankle", "right_knee", (0.0, -1.63948, 0.0), "ball", 21, "RightFoot", (1.0, 0.0, 0.0)),
    ("right_shoulder", "chest", (-0.0962, 0.974, 0.73244), "ball", 25, "RightArm", (0.0, -1.0, 0.0)),
    ("right_elbow", "right_shoulder", (0.0, -1.099152, 0.0), "elbow", 29, "RightForeArm", (0.0, -1.0, 0.0)),
    ("left_hip", "root", (0.0, 0.0, -0.339548), "ball", 30, "LeftUpLeg", (0.0, -1.0, 0.0)),
    ("left_knee", "left_hip", (0.0, -1.686184, 0.0), "knee", 34, "LeftLeg", (0.0, -1.0, 0.0)),
    ("left_ankle", "left_knee", (0.0, -1.63948, 0.0), "ball", 35, "LeftFoot", (1.0, 0.0, 0.0)),
    ("left_shoulder", "chest", (-0.0962, 0.974, -0.73244), "ball", 39, "LeftArm", (0.0, -1.0, 0.0)),
    ("left_elbow", "left_shoulder", (0.0, -1.099152, 0.0), "elbow", 43, "LeftForeArm", (0.0, -1.0, 0.0)),
)
_DEEPMIMIC_COLUMNS: Final = 44
_URDF_SCALE: Final = 0.25  # the URDF humanoid is four times life size; clip positions are metres already
# Physical sides of the hinges (radians about the joint's +Z, which points to the humanoid's right):
# a knee only flexes backward (angle <= 0), an elbow only forward (angle >= 0), as the URDF limits say.
_HINGE_RANGE: Final = {"knee": (-math.pi, 0.0), "elbow": (0.0, math.pi)}
_HINGE_AXIS: Final = (0.0, 0.0, 1.0)


def _capsule(joint: str, centre_y: float, length: float, radius: float) -> list[tuple[str, tuple[float, float, float], float]]:
    """A URDF capsule along the segment (y) as its two end spheres: the lowest point of a capsule is on one of them."""
    return [(joint, (0.0, centre_y + sign * length / 2.0, 0.0), radius) for sign in (-1.0, 1.0)]


def _box(
    joint: str, centre: tuple[float, float, float], size: tuple[float, float, float]
) -> list[tuple[str, tuple[float, float, float], float]]:
    corners = []
    for sx in (-0.5, 0.5):
        for sy in (-0.5, 0.5):
            for sz in (-0.5, 0.5):
                corners.append((joint, (centre[0] + sx * size[0], centre[1] + sy * size[1], centre[2] + sz * size[2]), 0.0))
    return corners


# The humanoid's collision shapes (URDF units, relative to each joint): spheres (centre, radius) whose lowest point
# is the body's lowest point in any pose (capsules as their end spheres, boxes as their corners).
_DEEPMIMIC_BODY: Final = (
    ("root", (0.0, 0.28, 0.0), 0.36),
    ("chest", (0.0, 0.48, 0.0), 0.44),
    ("neck", (0.0, 0.7, 0.0), 0.41),
    *(
        point
        for side in ("right", "left")
        for point in (
            *_capsule(f"{side}_hip", -0.84, 1.2, 0.22),
            *_capsule(f"{side}_knee", -0.8, 1.24, 0.2),
            *_box(f"{side}_ankle", (0.18, -0.09, 0.0), (0.708, 0.22, 0.36)),
            *_capsule(f"{side}_shoulder", -0.56, 0.72, 0.18),
            *_capsule(f"{side}_elbow", -0.48, 0.54, 0.16),
            (f"{side}_elbow", (0.0, -1.035788, 0.0), 0.16),
        )
    ),
)
# DeepMimic axes (x forward, y up, z right) to world axes (forward = -Y, up = +Z, right = -X).
_FROM_DEEPMIMIC: Final = np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def animations_per_character(motion_count: int, mirror: bool) -> int:
    """How many animations each character is rendered in: one per motion (two with its mirror image),
    or its own single animation when no motion is chosen."""
    return max(motion_count * (2 if mirror else 1), 1)


def library_names() -> tuple[str, ...]:
    """Names of the bundled clips, in the order ``motions list`` shows them."""
    return tuple(LIBRARY)


def library_motion(name: str, fps: float = MOTION_FPS) -> Motion:
    """A bundled clip resampled to ``fps``; raises :class:`MotionError` for an unknown name."""
    if name not in LIBRARY:
        raise MotionError(f"unknown motion {name!r} (the library has {', '.join(LIBRARY)})")
    file_name, _ = LIBRARY[name]
    return deepmimic_motion(_clip_text(file_name), name, fps, source=f"{file_name} ({LIBRARY_SOURCE})")


@cache
def _clip_text(file_name: str) -> str:
    return (CLIPS_DIR / file_name).read_text(encoding="utf-8")


def library_summaries(fps: float = MOTION_FPS) -> list[ClipSummary]:
    """Every bundled clip with its frame count at ``fps``, duration and whether it loops."""
    summaries = []
    for name, (_, description) in LIBRARY.items():
        clip = library_motion(name, fps)
        summaries.append(ClipSummary(name, clip.frame_count, round(clip.duration_s, 3), clip.loop, description))
    return summaries


def _hinge_quaternions(angles: FloatArray, kind: str) -> FloatArray:
    low, high = _HINGE_RANGE[kind]
    return rotations.axis_angle(_HINGE_AXIS, np.clip(angles, low, high))


def deepmimic_motion(text: str, name: str, fps: float = MOTION_FPS, source: str = "") -> Motion:
    """Read a DeepMimic clip (the JSON of pybullet's ``humanoid3d_*.txt``) and clean it up.

    In the humanoid's own joint space: quaternions are normalised and kept sign-continuous, the
    frames resampled by time to ``fps``, a cyclic clip's loop closed (:func:`_closed_loop`), and knee
    and elbow angles clamped to the side they bend to. The clip is then turned to face -Y at its
    first frame. Raises :class:`MotionError` when the text is not such a clip.
    """
    try:
        data = json.loads(text)
        frames = np.asarray(data["Frames"], dtype=np.float64)
        loop = str(data.get("Loop", "none")).lower() == "wrap"
    except (ValueError, KeyError, TypeError) as error:
        raise MotionError(f"{name}: not a DeepMimic clip ({error})") from None
    if frames.ndim != 2 or frames.shape[1] != _DEEPMIMIC_COLUMNS or len(frames) < 2:
        raise MotionError(f"{name}: expected at least 2 frames of {_DEEPMIMIC_COLUMNS} numbers, got shape {frames.shape}")
    if not np.all(np.isfinite(frames)) or np.any(frames[:-1, 0] < 0.0) or frames[:-1, 0].sum() <= 0.0:
        raise MotionError(f"{name}: frame durations must be finite, not negative, and add up to more than zero")
    times = np.concatenate([[0.0], np.cumsum(frames[:-1, 0])])
    balls = [joint for joint in _DEEPMIMIC_JOINTS if joint[3] not in _HINGE_RANGE]
    hinges = [joint for joint in _DEEPMIMIC_JOINTS if joint[3] in _HINGE_RANGE]
    quaternions = rotations.continuous(
        np.stack([rotations.normalised(frames[:, joint[4] : joint[4] + 4]) for joint in balls], axis=1)
    )
    angles = np.stack([frames[:, joint[4]] for joint in hinges], axis=1)
    sampled_fps, quaternions, (root, angles) = _resample(times, fps, quaternions, [frames[:, 1:4], angles])
    if loop:
        quaternions, root, angles = _closed_loop(quaternions, root, angles)
    low, high = np.array([_HINGE_RANGE[joint[3]] for joint in hinges]).T
    angles = np.clip(angles, low, high)
    local = {joint[0]: quaternions[:, index] for index, joint in enumerate(balls)}
    local.update({joint[0]: rotations.axis_angle(_HINGE_AXIS, angles[:, index]) for index, joint in enumerate(hinges)})
    world: dict[str, FloatArray] = {}
    positions: dict[str, FloatArray] = {}
    for joint, parent, offset, *_ in _DEEPMIMIC_JOINTS:
        if parent:
            world[joint] = rotations.multiply(world[parent], local[joint])
            positions[joint] = positions[parent] + rotations.to_matrix(world[parent]) @ (np.asarray(offset) * _URDF_SCALE)
        else:
            world[joint], positions[joint] = local[joint], root
    lowest = np.min(
        [
            (positions[joint] + rotations.to_matrix(world[joint]) @ (np.asarray(point) * _URDF_SCALE))[:, 1]
            - radius * _URDF_SCALE
            for joint, point, radius in _DEEPMIMIC_BODY
        ],
        axis=0,
    )
    axes = rotations.from_matrix(_FROM_DEEPMIMIC)
    segment_rotations = np.stack(
        [rotations.multiply(rotations.multiply(axes, world[joint[0]]), _inverse(axes)) for joint in _DEEPMIMIC_JOINTS], axis=1
    )
    motion = Motion(
        name=name,
        fps=sampled_fps,
        loop=loop,
        segments=tuple(joint[5] for joint in _DEEPMIMIC_JOINTS),
        rest_directions=np.array([_FROM_DEEPMIMIC @ np.asarray(joint[6]) for joint in _DEEPMIMIC_JOINTS]),
        rotations=rotations.continuous(segment_rotations),
        root_positions=root @ _FROM_DEEPMIMIC.T,
        clearance=lowest,
        hip_height=_deepmimic_hip_height(),
        source=source,
    )
    return _facing_front(motion)


def _inverse(quaternions: FloatArray) -> FloatArray:
    """Inverse [..., 4] of unit quaternions."""
    return np.asarray(quaternions * np.array([1.0, -1.0, -1.0, -1.0]))


def _closed_loop(quaternions: FloatArray, root: FloatArray, angles: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """A cycle whose last frame repeats its first pose exactly (the root turned to the last frame's heading).

    Captured cycles rarely close: the DeepMimic walk ends a few degrees away from where it began in
    every joint. Each joint's mismatch, and the root's height, is spread evenly over the clip (a
    correction growing from nothing at the first frame to all of it at the last), so the clip plays
    seamlessly in a loop and the renderer recognises its repeated end frame. ``quaternions`` [F, Q, 4]
    are the free and ball joints (the root first), ``root`` [F, 3] and ``angles`` [F, H] the root
    position and the hinge angles, all in the humanoid's axes (Y up).
    """
    axes = rotations.from_matrix(_FROM_DEEPMIMIC)
    in_world = rotations.multiply(rotations.multiply(axes, quaternions[[0, -1], 0]), _inverse(axes))
    turn = rotations.axis_angle((0.0, 1.0, 0.0), _heading(in_world[1]) - _heading(in_world[0]))
    wanted = quaternions[0].copy()
    wanted[0] = rotations.multiply(turn, quaternions[0, 0])
    mismatch = rotations.multiply(wanted, _inverse(quaternions[-1]))
    weights = np.linspace(0.0, 1.0, len(quaternions))
    identity = np.broadcast_to(np.array([1.0, 0.0, 0.0, 0.0]), quaternions.shape)
    spread = rotations.slerp(
        identity, np.broadcast_to(mismatch, quaternions.shape), np.broadcast_to(weights[:, None], quaternions.shape[:2])
    )
    lift = np.outer(weights, [0.0, root[0, 1] - root[-1, 1], 0.0])
    return (
        rotations.continuous(rotations.multiply(spread, quaternions)),
        root + lift,
        angles + np.outer(weights, angles[0] - angles[-1]),
    )


def _deepmimic_hip_height() -> float:
    """Height (metres) of the humanoid's pelvis above its soles at rest (every joint rotation zero)."""
    heights = {"root": 0.0}
    for joint, parent, offset, *_ in _DEEPMIMIC_JOINTS:
        if parent:
            heights[joint] = heights[parent] + offset[1]
    lowest = min(heights[joint] + point[1] - radius for joint, point, radius in _DEEPMIMIC_BODY)
    return -lowest * _URDF_SCALE


# Bone names some BVH exporters use for the Mixamo bones they correspond to (lower-case keys).
_BVH_ALIASES: Final = {
    "hip": "Hips",
    "pelvis": "Hips",
    "abdomen": "Spine",
    "chest": "Spine2",
    **{
        f"{prefix}{name}": f"{side}{bone}"
        for side, prefixes in (("Left", ("left", "l", "left_")), ("Right", ("right", "r", "right_")))
        for prefix in prefixes
        for name, bone in (
            ("collar", "Shoulder"),
            ("clavicle", "Shoulder"),
            ("shldr", "Arm"),
            ("upperarm", "Arm"),
            ("elbow", "ForeArm"),
            ("lowerarm", "ForeArm"),
            ("wrist", "Hand"),
            ("hand", "Hand"),
            ("forearm", "ForeArm"),
            ("foot", "Foot"),
            ("hip", "UpLeg"),
            ("thigh", "UpLeg"),
            ("upleg", "UpLeg"),
            ("knee", "Leg"),
            ("shin", "Leg"),
            ("calf", "Leg"),
            ("lowerleg", "Leg"),
            ("ankle", "Foot"),
            ("toe", "ToeBase"),
            ("toes", "ToeBase"),
        )
    },
}
_SPINE_CHAIN: Final = ("Hips", "Spine", "Spine1", "Spine2", "Neck", "Head")
_LIMB_CHAINS: Final = tuple(
    (f"{side}{first}", f"{side}{second}")
    for side in ("Left", "Right")
    for first, second in (
        ("Shoulder", "Arm"),
        ("Arm", "ForeArm"),
        ("ForeArm", "Hand"),
        ("UpLeg", "Leg"),
        ("Leg", "Foot"),
        ("Foot", "ToeBase"),
    )
)
_CHILD_SEGMENT: Final = {
    **dict(pairwise(_SPINE_CHAIN)),
    **dict(_LIMB_CHAINS),
}
REQUIRED_SEGMENTS: Final = (
    "Hips",
    *(f"{side}{bone}" for side in ("Left", "Right") for bone in ("UpLeg", "Leg", "Foot", "Arm", "ForeArm")),
)


def skeleton_segment_names(joint_names: list[str] | tuple[str, ...], parents: list[int] | tuple[int, ...]) -> dict[str, int]:
    """Which joint of a skeleton (BVH) plays each Mixamo bone: ``{bone: joint index}``.

    Joints are matched by their Mixamo name (any ``mixamorig:``-style prefix), then by common BVH
    names (``LeftHip``, ``lShldr``, ``RightKnee``, ...); an upper arm or thigh that is still
    missing is the parent of the matched forearm or shin.
    """
    roles: dict[str, int] = {}
    for index, raw in enumerate(joint_names):
        name = canonical_bone_name(raw)
        role = (
            name if name in _CHILD_SEGMENT or name in ("Head", "LeftHand", "RightHand", "LeftToeBase", "RightToeBase") else None
        )
        role = role or _BVH_ALIASES.get(name.lower())
        if role is not None and role not in roles:
            roles[role] = index
    for parent_role, child_role in (*reversed(_LIMB_CHAINS), *pairwise(_SPINE_CHAIN)):
        if parent_role not in roles and child_role in roles and parents[roles[child_role]] >= 0:
            candidate = parents[roles[child_role]]
            if candidate not in roles.values():
                roles[parent_role] = candidate
    return roles


def _unit(vector: FloatArray) -> FloatArray:
    length = float(np.linalg.norm(vector))
    return vector / length if length > 1e-9 else np.array([0.0, 0.0, 1.0])


def skeleton_motion(
    name: str,
    fps: float,
    joint_names: list[str] | tuple[str, ...],
    parents: list[int] | tuple[int, ...],
    rest_heads: npt.ArrayLike,
    heads: npt.ArrayLike,
    world_rotations: npt.ArrayLike,
    *,
    loop: bool = False,
    source: str = "",
    output_fps: float = MOTION_FPS,
) -> Motion:
    """A :class:`Motion` from a sampled skeleton (a BVH file as Blender imports it).

    ``rest_heads`` [J, 3] and ``heads`` [F, J, 3] are joint positions (any length unit, any
    orientation), ``world_rotations`` [F, J, 3, 3] each joint's world rotation from its rest
    orientation, sampled at ``fps``. The skeleton's up and left are found from its rest pose (head
    above the hips, left hip on its left), its floor is its lowest joint over the clip.
    Raises :class:`MotionError` naming the bones it cannot find.
    """
    rest = np.asarray(rest_heads, dtype=np.float64)
    posed = np.asarray(heads, dtype=np.float64)
    turns = np.asarray(world_rotations, dtype=np.float64)
    roles = skeleton_segment_names(joint_names, parents)
    missing = [bone for bone in REQUIRED_SEGMENTS if bone not in roles]
    if missing:
        raise MotionError(f"{name}: the skeleton has no joint for {', '.join(missing)} (name them like Mixamo's bones)")
    if len(posed) < 1 or posed.shape[1:] != rest.shape or turns.shape[:2] != posed.shape[:2]:
        raise MotionError(f"{name}: joint arrays do not match ({rest.shape}, {posed.shape}, {turns.shape})")
    top = next(roles[bone] for bone in reversed(_SPINE_CHAIN) if bone in roles)
    up = _unit(rest[top] - rest[roles["Hips"]])
    left = rest[roles["LeftUpLeg"]] - rest[roles["RightUpLeg"]]
    left = _unit(left - up * float(left @ up))
    to_world = np.stack([left, np.cross(up, left), up])
    rest = rest @ to_world.T
    posed = posed @ to_world.T
    turns = to_world @ turns @ to_world.T
    rest_floor = float(rest[:, 2].min())
    clip_floor = float(posed[:, :, 2].min())
    hips = (roles["LeftUpLeg"], roles["RightUpLeg"])
    segments = tuple(bone for bone in (*_SPINE_CHAIN, *_CHILD_SEGMENT, "LeftHand", "RightHand") if bone in roles)
    segments = tuple(dict.fromkeys(segments))
    directions = []
    for bone in segments:
        child = _CHILD_SEGMENT.get(bone)
        if child in roles:
            directions.append(_unit(rest[roles[child]] - rest[roles[bone]]))
        else:
            children = [index for index, parent in enumerate(parents) if parent == roles[bone]]
            directions.append(_unit(rest[children[0]] - rest[roles[bone]]) if children else up @ to_world.T)
    root = posed[:, hips, :].mean(axis=1)
    root[:, 2] -= clip_floor
    motion = Motion(
        name=name,
        fps=fps,
        loop=loop,
        segments=segments,
        rest_directions=np.array(directions),
        rotations=rotations.continuous(rotations.from_matrix(turns[:, [roles[bone] for bone in segments]])),
        root_positions=root,
        clearance=posed[:, :, 2].min(axis=1) - clip_floor,
        hip_height=float(rest[list(hips), 2].mean()) - rest_floor,
        source=source,
    )
    motion = _facing_front(motion)
    return motion if math.isclose(fps, output_fps) else resampled(motion, output_fps)


def _heading(rotation: FloatArray) -> float:
    """The turn (radians about +Z) of a pelvis rotation [4]: from its left axis, which stays level
    when the body stands or lies on its back or front; from its front axis when the left axis is upright."""
    matrix = rotations.to_matrix(rotation)
    left = matrix @ np.array([1.0, 0.0, 0.0])
    if math.hypot(left[0], left[1]) > 0.3:
        return math.atan2(left[1], left[0])
    front = matrix @ np.array([0.0, -1.0, 0.0])
    return math.atan2(front[0], -front[1])


def _turned(motion: Motion, angle: float, shift: FloatArray) -> Motion:
    """``motion`` turned by ``angle`` radians about +Z through the origin, then moved by ``shift`` [3]."""
    turn = rotations.axis_angle((0.0, 0.0, 1.0), angle)
    return replace(
        motion,
        rotations=rotations.multiply(turn, motion.rotations),
        root_positions=motion.root_positions @ rotations.about_z(angle).T + shift,
    )


def _facing_front(motion: Motion) -> Motion:
    """The clip turned so its first frame faces -Y, with the pelvis above the origin."""
    pelvis = motion.index("Hips")
    turned = _turned(motion, -_heading(motion.rotations[0, pelvis]), np.zeros(3))
    start = turned.root_positions[0] * np.array([1.0, 1.0, 0.0])
    return replace(turned, root_positions=turned.root_positions - start)


def _resample(
    times: FloatArray, fps: float, quaternions: FloatArray, linear: list[FloatArray]
) -> tuple[float, FloatArray, list[FloatArray]]:
    """Frames taken at ``times`` [F] (seconds, increasing) resampled to a whole number of frames at
    about ``fps``, keeping the first and the last frame (so a loop stays closed): quaternions
    [F, ..., 4] by slerp, every array of ``linear`` [F, ...] linearly. Returns the exact new rate too."""
    total = float(times[-1] - times[0])
    count = max(round(total * fps), 1) + 1
    wanted = times[0] + total * np.arange(count) / (count - 1)
    after = np.clip(np.searchsorted(times, wanted, side="right"), 1, len(times) - 1)
    before = after - 1
    span = times[after] - times[before]
    fraction = np.clip(np.where(span > 0.0, (wanted - times[before]) / np.where(span > 0.0, span, 1.0), 0.0), 0.0, 1.0)
    turns = rotations.slerp(
        quaternions[before],
        quaternions[after],
        fraction.reshape(-1, *([1] * (quaternions.ndim - 2))) * np.ones(quaternions.shape[1:-1]),
    )

    def blend(values: FloatArray) -> FloatArray:
        weights = fraction.reshape(-1, *([1] * (values.ndim - 1)))
        return np.asarray(values[before] * (1.0 - weights) + values[after] * weights)

    return (count - 1) / total, rotations.continuous(turns), [blend(values) for values in linear]


def resampled(motion: Motion, fps: float) -> Motion:
    """``motion`` resampled by time to about ``fps`` (rotations by slerp, positions linearly), first and
    last frame kept."""
    times = np.arange(motion.frame_count) / motion.fps
    new_fps, turns, (root, clearance) = _resample(times, fps, motion.rotations, [motion.root_positions, motion.clearance])
    return replace(motion, fps=new_fps, rotations=turns, root_positions=root, clearance=clearance)


def mirrored(motion: Motion, name: str | None = None) -> Motion:
    """The clip seen in a mirror (x -> -x): left and right swap, so the library doubles.

    Named ``<name>_mirrored`` unless ``name`` is given.
    """
    flip = np.array([-1.0, 1.0, 1.0])
    return replace(
        motion,
        name=name or f"{motion.name}{MIRROR_SUFFIX}",
        segments=tuple(mirror_name(segment) for segment in motion.segments),
        rest_directions=motion.rest_directions * flip,
        rotations=motion.rotations * np.array([1.0, 1.0, -1.0, -1.0]),
        root_positions=motion.root_positions * flip,
    )


def in_place(motion: Motion) -> Motion:
    """The clip without its travel: the straight ground path from the first to the last pelvis
    position is taken out, so the body stays near the origin but keeps its sway."""
    progress = np.linspace(0.0, 1.0, motion.frame_count)[:, None]
    travel = (motion.root_positions[-1] - motion.root_positions[0]) * np.array([1.0, 1.0, 0.0])
    return replace(motion, root_positions=motion.root_positions - progress * travel)


def looped(motion: Motion, cycles: int) -> Motion:
    """A cyclic clip played ``cycles`` times: each cycle starts where and how the last one ended
    (its ground position and heading), the repeated end frame of each cycle appears once.

    Raises :class:`MotionError` for a clip that is not a loop.
    """
    if not motion.loop:
        raise MotionError(f"{motion.name} is not a cyclic clip")
    if cycles < 1:
        raise MotionError(f"{motion.name}: cycles must be at least 1, got {cycles}")
    pelvis = motion.index("Hips")
    angle = _heading(motion.rotations[-1, pelvis]) - _heading(motion.rotations[0, pelvis])
    turn = rotations.about_z(angle)
    shift = (motion.root_positions[-1] - turn @ motion.root_positions[0]) * np.array([1.0, 1.0, 0.0])
    body = replace(
        motion,
        rotations=motion.rotations[:-1],
        root_positions=motion.root_positions[:-1],
        clearance=motion.clearance[:-1],
    )
    parts = []
    total_angle, total_shift = 0.0, np.zeros(3)
    for cycle in range(cycles):
        if cycle:
            total_angle, total_shift = total_angle + angle, turn @ total_shift + shift
        parts.append(_turned(body, total_angle, total_shift))
    end = replace(motion, rotations=motion.rotations[-1:], root_positions=motion.root_positions[-1:])
    parts.append(_turned(end, total_angle, total_shift))
    return replace(
        motion,
        rotations=rotations.continuous(np.concatenate([part.rotations for part in parts])),
        root_positions=np.concatenate([part.root_positions for part in parts]),
        clearance=np.concatenate([motion.clearance[:-1]] * cycles + [motion.clearance[-1:]]),
    )
