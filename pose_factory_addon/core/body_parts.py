"""Body parts for the ``parts`` pass: which part each Mixamo bone's skin belongs to, and the palette.

A part-index mask (0 background, 1.. the parts below, the character's left and right apart)
is what human-parsing and part-segmentation models train on; each face of a character gets
the part of its owner bone (the bone with the largest summed skin weight, as for visibility).
"""

from __future__ import annotations

from typing import Final

from .skeletons import canonical_bone_name

PARTS: Final = (
    "background",
    "head",
    "torso",
    "left_upper_arm",
    "right_upper_arm",
    "left_lower_arm",
    "right_lower_arm",
    "left_hand",
    "right_hand",
    "left_upper_leg",
    "right_upper_leg",
    "left_lower_leg",
    "right_lower_leg",
    "left_foot",
    "right_foot",
)

# One colour per part for viewing the mask (index 0 is black); the mask file itself stores indices.
PALETTE: Final = (
    (0, 0, 0), (230, 200, 150), (70, 120, 200), (60, 170, 90), (200, 90, 60), (120, 210, 120), (240, 140, 100),
    (160, 240, 160), (250, 190, 150), (90, 90, 230), (230, 90, 200), (130, 130, 250), (250, 130, 220),
    (60, 200, 230), (230, 200, 60),
)  # fmt: skip

_PREFIX_PARTS: Final = (
    ("Head", "head"), ("Neck", "head"), ("HeadTop", "head"), ("LeftEye", "head"), ("RightEye", "head"),
    ("Hips", "torso"), ("Spine", "torso"), ("LeftShoulder", "torso"), ("RightShoulder", "torso"),
    ("LeftArm", "left_upper_arm"), ("RightArm", "right_upper_arm"),
    ("LeftForeArm", "left_lower_arm"), ("RightForeArm", "right_lower_arm"),
    ("LeftHand", "left_hand"), ("RightHand", "right_hand"),
    ("LeftUpLeg", "left_upper_leg"), ("RightUpLeg", "right_upper_leg"),
    ("LeftLeg", "left_lower_leg"), ("RightLeg", "right_lower_leg"),
    ("LeftFoot", "left_foot"), ("RightFoot", "right_foot"), ("LeftToe", "left_foot"), ("RightToe", "right_foot"),
)  # fmt: skip


def part_of_bone(bone: str) -> int:
    """The part index (:data:`PARTS`) a bone's skin belongs to; 0 for no bone or a bone outside the body parts.

    Matched by the canonical Mixamo name's start, longest first (``LeftHandIndex1`` is the left
    hand, ``LeftForeArm`` the left lower arm, ``LeftArm`` the left upper arm).
    """
    name = canonical_bone_name(bone)
    for prefix, part in sorted(_PREFIX_PARTS, key=lambda item: -len(item[0])):
        if name.startswith(prefix):
            return PARTS.index(part)
    return 0


def palette_record() -> list[dict[str, object]]:
    """The parts and their colours as ``dataset.json`` lists them."""
    return [{"index": index, "part": part, "rgb": list(PALETTE[index])} for index, part in enumerate(PARTS)]
