"""Keypoint sets (MediaPipe-33, COCO-17) and where each keypoint comes from on a Mixamo rig.

One source of truth: COCO-17 is defined as a selection of MediaPipe-33 landmarks by name,
so the two formats can never disagree on what "left_wrist" is. "Left" is always the
character's own left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

MEDIAPIPE33_NAMES: Final = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)

# MediaPipe's POSE_CONNECTIONS, 0-based indices into MEDIAPIPE33_NAMES.
MEDIAPIPE33_EDGES: Final = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
    (11, 12), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
    (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28),
    (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32),
)  # fmt: skip

COCO17_NAMES: Final = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)

# The COCO dataset's `skeleton`, 1-based as the COCO format defines it.
COCO17_SKELETON: Final = (
    (16, 14), (14, 12), (17, 15), (15, 13), (12, 13), (6, 12), (7, 13), (6, 7), (6, 8),
    (7, 9), (8, 10), (9, 11), (2, 3), (1, 2), (1, 3), (2, 4), (3, 5), (4, 6), (5, 7),
)  # fmt: skip

# Index of each COCO-17 keypoint in MediaPipe-33 (same name in both sets).
COCO17_FROM_MEDIAPIPE33: Final = tuple(MEDIAPIPE33_NAMES.index(name) for name in COCO17_NAMES)


@dataclass(frozen=True)
class KeypointSet:
    """A named keypoint format: names, 0-based edges, and its landmarks in MediaPipe-33 order."""

    name: str
    names: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    mediapipe_indices: tuple[int, ...]


KEYPOINT_SETS: Final = {
    "mediapipe33": KeypointSet("mediapipe33", MEDIAPIPE33_NAMES, MEDIAPIPE33_EDGES, tuple(range(33))),
    "coco17": KeypointSet(
        "coco17",
        COCO17_NAMES,
        tuple((a - 1, b - 1) for a, b in COCO17_SKELETON),
        COCO17_FROM_MEDIAPIPE33,
    ),
}

SourceKind = Literal["bone_head", "surface"]


@dataclass(frozen=True)
class LandmarkSource:
    """Where a MediaPipe-33 landmark comes from on a Mixamo rig.

    ``bone_head``: the head (start) of ``bone`` in the posed armature; ``fallbacks`` are
    tried in order when the rig lacks ``bone`` (Mixamo rigs without fingers or end bones).
    ``surface``: a point on the skin chosen once on the rest mesh by ``rule`` relative to
    ``bone`` and read from the deformed mesh every frame, so it moves with the skin.
    """

    kind: SourceKind
    bone: str
    rule: str = ""
    fallbacks: tuple[str, ...] = ()


def _sided(side: str) -> dict[str, LandmarkSource]:
    s = side.capitalize()
    return {
        f"{side}_eye_inner": LandmarkSource("surface", "Head", f"eye_inner_{side}"),
        f"{side}_eye": LandmarkSource("surface", "Head", f"eye_{side}"),
        f"{side}_eye_outer": LandmarkSource("surface", "Head", f"eye_outer_{side}"),
        f"{side}_ear": LandmarkSource("surface", "Head", f"ear_{side}"),
        f"mouth_{side}": LandmarkSource("surface", "Head", f"mouth_{side}"),
        f"{side}_shoulder": LandmarkSource("bone_head", f"{s}Arm"),
        f"{side}_elbow": LandmarkSource("bone_head", f"{s}ForeArm"),
        f"{side}_wrist": LandmarkSource("bone_head", f"{s}Hand"),
        f"{side}_pinky": LandmarkSource("bone_head", f"{s}HandPinky1", "hand_pinky", (f"surface:{s}Hand",)),
        f"{side}_index": LandmarkSource("bone_head", f"{s}HandIndex1", "hand_index", (f"surface:{s}Hand",)),
        f"{side}_thumb": LandmarkSource("bone_head", f"{s}HandThumb2", "hand_thumb", (f"{s}HandThumb1", f"surface:{s}Hand")),
        f"{side}_hip": LandmarkSource("bone_head", f"{s}UpLeg"),
        f"{side}_knee": LandmarkSource("bone_head", f"{s}Leg"),
        f"{side}_ankle": LandmarkSource("bone_head", f"{s}Foot"),
        f"{side}_heel": LandmarkSource("surface", f"{s}Foot", f"heel_{side}"),
        f"{side}_foot_index": LandmarkSource("bone_head", f"{s}Toe_End", "toe_tip", (f"surface:{s}Foot",)),
    }


MIXAMO_LANDMARK_SOURCES: Final = {
    "nose": LandmarkSource("surface", "Head", "nose"),
    **_sided("left"),
    **_sided("right"),
}


def _sided_owners(side: str) -> dict[str, tuple[str, ...]]:
    s = side.capitalize()
    return {
        f"{side}_shoulder": (f"{s}Arm", f"{s}Shoulder"),
        f"{side}_elbow": (f"{s}ForeArm", f"{s}Arm"),
        f"{side}_wrist": (f"{s}Hand", f"{s}ForeArm", f"{s}HandThumb1"),
        f"{side}_pinky": (f"{s}HandPinky1", f"{s}Hand"),
        f"{side}_index": (f"{s}HandIndex1", f"{s}Hand"),
        f"{side}_thumb": (f"{s}HandThumb2", f"{s}HandThumb1"),
        f"{side}_hip": (f"{s}UpLeg", "Hips"),
        f"{side}_knee": (f"{s}Leg", f"{s}UpLeg"),
        f"{side}_ankle": (f"{s}Foot", f"{s}Leg"),
        f"{side}_foot_index": (f"{s}Toe_End", f"{s}ToeBase"),
    }


# The skin a joint keypoint may be seen through (core.visibility): the two segments that meet at
# the joint, the joint's own bone first (the wrist also owns the thumb's metacarpal, which covers it
# from the front in a relaxed hand). Keyed by MediaPipe-33 name, which also names every COCO-17
# keypoint; face, heel and hand-surface landmarks lie on the skin and have no owners.
JOINT_OWNER_BONES: Final = {**_sided_owners("left"), **_sided_owners("right")}

# Bones a rig must have (after prefix normalisation) to be labelled as a Mixamo-like rig.
MIXAMO_REQUIRED_BONES: Final = tuple(
    sorted(
        {"Hips", "Spine", "Neck", "Head"}
        | {source.bone for source in MIXAMO_LANDMARK_SOURCES.values() if source.kind == "bone_head" and not source.fallbacks}
        | {source.bone for source in MIXAMO_LANDMARK_SOURCES.values() if source.kind == "surface"}
    )
)

_MIXAMO_PREFIX = re.compile(r"^(?:.*:)?(?:mixamorig\d*[_:]?)?", re.IGNORECASE)


def canonical_bone_name(name: str) -> str:
    """Strip Mixamo's namespace prefixes: ``mixamorig:LeftArm``, ``mixamorig1:LeftArm``,
    ``mixamorig_LeftArm`` and ``Armature:mixamorig:LeftArm`` all become ``LeftArm``."""
    return _MIXAMO_PREFIX.sub("", name, count=1)


def missing_mixamo_bones(bone_names: list[str] | tuple[str, ...]) -> list[str]:
    """The required Mixamo bones a rig lacks (empty when it can be labelled)."""
    present = {canonical_bone_name(name) for name in bone_names}
    return [bone for bone in MIXAMO_REQUIRED_BONES if bone not in present]


def owner_bones(label_set: str) -> tuple[tuple[str, ...], ...]:
    """The owner bones of each keypoint of ``label_set``, in its order (empty for surface landmarks)."""
    return tuple(JOINT_OWNER_BONES.get(name, ()) for name in keypoint_set(label_set).names)


def keypoint_set(name: str) -> KeypointSet:
    """Look up a keypoint set by name (``mediapipe33`` or ``coco17``)."""
    try:
        return KEYPOINT_SETS[name]
    except KeyError:
        raise ValueError(f"unknown label set {name!r} (choose from {', '.join(KEYPOINT_SETS)})") from None
