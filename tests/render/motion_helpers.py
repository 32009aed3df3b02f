"""A BVH file written with known joint angles, and the limb directions those angles give (for the motion tests)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

CHILD = {"Arm": "ForeArm", "ForeArm": "Hand", "UpLeg": "Leg", "Leg": "Foot"}

# A BVH skeleton like the CMU conversions': Y up, facing +Z (its left on +X), centimetres, T-pose rest.
BVH_JOINTS = (
    ("Hips", "", (0, 95, 0)), ("Spine", "Hips", (0, 10, 0)), ("Spine1", "Spine", (0, 15, 0)),
    ("Neck", "Spine1", (0, 25, 0)), ("Head", "Neck", (0, 10, 0)),
    ("LeftShoulder", "Spine1", (5, 20, 0)), ("LeftArm", "LeftShoulder", (12, 0, 0)),
    ("LeftForeArm", "LeftArm", (28, 0, 0)), ("LeftHand", "LeftForeArm", (25, 0, 0)),
    ("RightShoulder", "Spine1", (-5, 20, 0)), ("RightArm", "RightShoulder", (-12, 0, 0)),
    ("RightForeArm", "RightArm", (-28, 0, 0)), ("RightHand", "RightForeArm", (-25, 0, 0)),
    ("LeftUpLeg", "Hips", (9, -5, 0)), ("LeftLeg", "LeftUpLeg", (0, -42, 0)), ("LeftFoot", "LeftLeg", (0, -40, 0)),
    ("LeftToeBase", "LeftFoot", (0, -8, 12)),
    ("RightUpLeg", "Hips", (-9, -5, 0)), ("RightLeg", "RightUpLeg", (0, -42, 0)), ("RightFoot", "RightLeg", (0, -40, 0)),
    ("RightToeBase", "RightFoot", (0, -8, 12)),
)  # fmt: skip
BVH_ENDS = {
    "Head": (0, 18, 0),
    "LeftHand": (10, 0, 0),
    "RightHand": (-10, 0, 0),
    "LeftToeBase": (0, 0, 6),
    "RightToeBase": (0, 0, 6),
}
BVH_FRAME_TIME = 1.0 / 60.0
BVH_FRAMES = 61


def bvh_angles(frame: float) -> dict[str, tuple[str, float]]:
    """The known rotation (axis, degrees) of each moving joint at BVH frame ``frame`` (one axis per joint)."""
    phase = frame / 10.0
    return {
        "LeftArm": ("Z", -70.0 + 20.0 * math.sin(phase)),  # the left arm hangs 50..90 degrees down
        "RightArm": ("Z", 60.0 * math.cos(phase)),  # the right arm swings between up and down
        "LeftForeArm": ("Y", 40.0 * (1.0 + math.sin(phase))),  # the left elbow bends forward
        "RightForeArm": ("Y", -30.0),
        "LeftUpLeg": ("X", -30.0 * math.sin(phase)),
        "RightUpLeg": ("X", 25.0 * math.sin(phase)),
        "LeftLeg": ("X", 25.0 * (1.0 + math.sin(phase))),  # the left knee bends backward (about +X)
        "RightLeg": ("X", 20.0),
        "Spine": ("X", 10.0 * math.sin(phase)),
    }


def write_bvh(path: Path) -> None:
    children: dict[str, list[str]] = {}
    for name, parent, _ in BVH_JOINTS:
        children.setdefault(parent, []).append(name)
    offsets = {name: offset for name, _, offset in BVH_JOINTS}
    lines = ["HIERARCHY"]
    order: list[str] = []

    def emit(name: str, depth: int) -> None:
        pad = "  " * depth
        order.append(name)
        channels = (
            "6 Xposition Yposition Zposition Zrotation Xrotation Yrotation" if depth == 0 else "3 Zrotation Xrotation Yrotation"
        )
        lines.extend([f"{pad}{'ROOT' if depth == 0 else 'JOINT'} {name}", f"{pad}{{",
                      f"{pad}  OFFSET {' '.join(f'{v:.4f}' for v in offsets[name])}", f"{pad}  CHANNELS {channels}"])  # fmt: skip
        for child in children.get(name, []):
            emit(child, depth + 1)
        if name in BVH_ENDS:
            end = " ".join(f"{v:.4f}" for v in BVH_ENDS[name])
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {end}", f"{pad}  }}"])
        lines.append(f"{pad}}}")

    emit("Hips", 0)
    lines += ["MOTION", f"Frames: {BVH_FRAMES}", f"Frame Time: {BVH_FRAME_TIME:.7f}"]
    for frame in range(BVH_FRAMES):
        angles = bvh_angles(frame)
        values = [0.0, 95.0, 2.0 * frame]
        for name in order:
            turn = {"Z": 0.0, "X": 0.0, "Y": 0.0}
            if name in angles:
                turn[angles[name][0]] = angles[name][1]
            values += [turn["Z"], turn["X"], turn["Y"]]
        lines.append(" ".join(f"{value:.5f}" for value in values))
    path.write_text("\n".join(lines) + "\n")


def _axis_rotation(axis: str, degrees: float) -> np.ndarray:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return {
        "X": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
        "Y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
        "Z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]]),
    }[axis]


def bvh_direction(frame: float, limb: str) -> np.ndarray:
    """The limb's direction from the file's own definition, in the renderer's axes (left +X, front -Y, up +Z)."""
    parents = {name: parent for name, parent, _ in BVH_JOINTS}
    offsets = {name: np.array(offset, dtype=float) for name, _, offset in BVH_JOINTS}
    angles = bvh_angles(frame)
    chain, joint = [], limb
    while joint:
        chain.append(joint)
        joint = parents[joint]
    turn = np.eye(3)
    for joint in reversed(chain):
        turn = turn @ (_axis_rotation(*angles[joint]) if joint in angles else np.eye(3))
    side = "Left" if limb.startswith("Left") else "Right"
    direction = turn @ offsets[side + CHILD[limb[len(side) :]]]
    return np.array([direction[0], -direction[2], direction[1]])
