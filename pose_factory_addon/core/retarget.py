"""Retargeting maths: a :class:`~pose_factory_addon.core.motion.Motion` onto a character's rest skeleton, in numpy.

The Blender side (:mod:`pose_factory_addon.render.retarget`) reads the rig into a :class:`TargetRig`
and writes the :class:`RetargetedClip` as an action. Everything is in the normalised world of the
renderer (metres, +Z up, facing -Y, left = +X, feet on z = 0 at rest).

How a bone is posed, frame by frame:

* A limb bone (upper arm, forearm, hand, thigh, shin) takes its source segment's world rotation
  *relative to the rest directions*: ``G_bone = G_segment @ turn(rest_bone -> rest_segment)``, the
  smallest turn taking the bone's rest direction onto the segment's. So a T-pose and an A-pose rig
  both point their limbs along the source's limbs, with the same twist about them.
* Pelvis, spine, neck, head and feet stand upright and face forward at rest on every rig, so they
  take the segment's world rotation as it is; spine bones the source lacks share the bend between
  their neighbours (``Spine``/``Spine1`` between the pelvis and the chest), bones it never drives
  (fingers, toes, shoulders) keep their rest pose relative to their parent.
* Arms that hang along the body are turned out by the little angle this rig's hips and thighs need
  (:func:`arm_clearance_deg`), so its hands do not sink into a wider body than the source's.
* The pelvis follows the source's trajectory scaled by the ratio of hip heights; each frame the body
  is then raised or lowered so its lowest skin point is as high above the floor as the source's
  (scaled): feet stay on the floor, hands touch it in a cartwheel, the body leaves it in a jump.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from . import rotations
from .motion import Motion, in_place

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# Bones aligned to their segment by direction (the rest poses of source and rig differ for them).
LIMB_BONES: Final = frozenset(
    f"{side}{bone}" for side in ("Left", "Right") for bone in ("Arm", "ForeArm", "Hand", "UpLeg", "Leg")
)
_CHILD_JOINT: Final = {
    **{f"{side}{bone}": f"{side}{child}" for side in ("Left", "Right") for bone, child in
       (("Arm", "ForeArm"), ("ForeArm", "Hand"), ("UpLeg", "Leg"), ("Leg", "Foot"), ("Foot", "ToeBase"))},
    **{f"{side}Hand": f"{side}HandMiddle1" for side in ("Left", "Right")},
}  # fmt: skip
SPINE_CHAIN: Final = ("Hips", "Spine", "Spine1", "Spine2", "Neck", "Head")
ROOT_BONE: Final = "Hips"
MAX_ARM_CLEARANCE_DEG: Final = 10.0  # never turn an arm out by more than this
_ARM_CLEARANCE_MARGIN_M: Final = 0.01  # gap kept between a hanging arm's skin and the hips' skin
_HANGING_CONE_DEG: Final = 35.0  # an upper arm within this angle of the chest's down axis hangs along the body
_HEIGHT_BIN_M: Final = 0.01


@dataclass(frozen=True)
class TargetRig:
    """A character's skeleton and skin at rest, in the renderer's world (metres); ``B`` bones, ``P`` skin points.

    ``names`` are canonical (prefix-free) bone names, parents before children; ``parents`` [B] the
    index of each bone's parent (-1 for none); ``heads`` [B, 3] rest heads; ``axes`` [B, 3, 3] each
    bone's rest local axes as columns (world rotation of the bone's rest frame); ``unit_m`` metres per
    armature unit (pose-bone locations are in armature units). ``skin_points`` [P, 3] are rest skin
    vertices (a subset is enough) and ``skin_bones`` [P] the bone each one follows (its heaviest weight).
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    heads: FloatArray
    axes: FloatArray
    unit_m: float
    skin_points: FloatArray
    skin_bones: IntArray

    def index(self, name: str) -> int:
        """Position of bone ``name``; -1 when the rig has no such bone."""
        return self.names.index(name) if name in self.names else -1

    def has(self, name: str) -> bool:
        return name in self.names

    def rest_direction(self, name: str) -> FloatArray:
        """Unit direction [3] of bone ``name`` at rest: towards its child joint, else along its own axis."""
        index = self.index(name)
        child = _CHILD_JOINT.get(name, "")
        if self.has(child):
            offset = self.heads[self.index(child)] - self.heads[index]
            if np.linalg.norm(offset) > 1e-6:
                return np.asarray(offset / np.linalg.norm(offset))
        return np.asarray(self.axes[index][:, 1])

    def pelvis_centre(self) -> FloatArray:
        """Midpoint [3] of the hip joints at rest (falls back to the ``Hips`` head)."""
        hips = [self.heads[self.index(name)] for name in ("LeftUpLeg", "RightUpLeg") if self.has(name)]
        return np.mean(hips, axis=0) if len(hips) == 2 else np.asarray(self.heads[self.index(ROOT_BONE)])

    def descendants(self, name: str) -> list[int]:
        """Indices of bone ``name`` and every bone below it."""
        found = {self.index(name)}
        for index, parent in enumerate(self.parents):
            if parent in found:
                found.add(index)
        return sorted(found)


@dataclass(frozen=True)
class RetargetedClip:
    """A motion on a rig, ``F`` frames, ready to key: pose-bone rotations and the root's location.

    ``bones`` name the ``K`` keyed bones (every other bone stays at rest relative to its parent);
    ``quaternions`` [F, K, 4] are their pose-bone rotations ``(w, x, y, z)`` in their rest frames;
    ``root_location`` [F, 3] is the ``Hips`` pose-bone location (armature units, bone axes).
    ``world_rotations`` [F, B, 3, 3] and ``heads`` [F, B, 3] are every bone's posed world rotation
    (from rest) and head (metres); ``lowest`` [F] the lowest skin point's height and
    ``arm_clearance_deg`` [F, 2] the turn given to the left and right arm.
    """

    name: str
    fps: float
    bones: tuple[str, ...]
    quaternions: FloatArray
    root_location: FloatArray
    world_rotations: FloatArray
    heads: FloatArray
    lowest: FloatArray
    arm_clearance_deg: FloatArray

    @property
    def frame_count(self) -> int:
        return int(self.quaternions.shape[0])


def arm_clearance_deg(rig: TargetRig, side: str) -> float:
    """How far (degrees) an arm of ``side`` (``Left``/``Right``) hanging straight down must turn out so
    the skin of its forearm and hand clears the skin of the hips and thigh by :data:`_ARM_CLEARANCE_MARGIN_M`
    (0 when it already does, at most :data:`MAX_ARM_CLEARANCE_DEG`). The upper arm resting against the
    ribs is left alone: real arms hang there too."""
    arm, forearm = rig.index(f"{side}Arm"), rig.index(f"{side}ForeArm")
    if arm < 0 or forearm < 0:
        return 0.0
    outward = 1.0 if side == "Left" else -1.0
    hip_bones = [rig.index(name) for name in ("Hips", f"{side}UpLeg") if rig.has(name)]
    arm_points = rig.skin_points[np.isin(rig.skin_bones, rig.descendants(f"{side}ForeArm"))]
    body_points = rig.skin_points[np.isin(rig.skin_bones, hip_bones)]
    if len(arm_points) == 0 or len(body_points) == 0:
        return 0.0
    shoulder = rig.heads[arm]
    hang = rotations.between(rig.rest_direction(f"{side}Arm"), np.array([0.0, 0.0, -1.0]))
    hanging = (arm_points - shoulder) @ hang.T + shoulder
    low = math.floor(float(min(hanging[:, 2].min(), body_points[:, 2].min())) / _HEIGHT_BIN_M)
    body_bins = np.floor(body_points[:, 2] / _HEIGHT_BIN_M).astype(np.int64) - low
    widest = np.full(int(body_bins.max()) + 1, -np.inf)
    np.maximum.at(widest, body_bins, body_points[:, 0] * outward)
    arm_bins = np.floor(hanging[:, 2] / _HEIGHT_BIN_M).astype(np.int64) - low
    inside = arm_bins < len(widest)
    gap = widest[arm_bins[inside]] + _ARM_CLEARANCE_MARGIN_M - hanging[inside, 0] * outward
    drop = shoulder[2] - hanging[inside, 2]
    needed = np.degrees(np.arctan2(gap, drop))[(gap > 0.0) & (drop > 0.0)]
    return float(min(needed.max(), MAX_ARM_CLEARANCE_DEG)) if len(needed) else 0.0


def _spine_rotations(motion: Motion, world: FloatArray, rig: TargetRig) -> dict[str, FloatArray]:
    """World rotations [F, 4] of the rig's spine-chain bones: the source's where it has the bone, shared
    by slerp between the nearest driven bones below and above, the one below above the last driven."""
    present = [name for name in SPINE_CHAIN if rig.has(name)]
    driven = [name for name in present if name in motion.segments]
    result: dict[str, FloatArray] = {}
    for position, name in enumerate(present):
        if name in driven:
            result[name] = world[:, motion.index(name)]
            continue
        below = [other for other in driven if present.index(other) < position]
        above = [other for other in driven if present.index(other) > position]
        if below and above:
            low, high = present.index(below[-1]), present.index(above[0])
            fraction = (position - low) / (high - low)
            result[name] = rotations.slerp(
                world[:, motion.index(below[-1])], world[:, motion.index(above[0])], np.full(len(world), fraction)
            )
    return result


def _clearance_turns(motion: Motion, source_matrices: FloatArray, rig: TargetRig) -> tuple[dict[str, FloatArray], FloatArray]:
    """Per side, the world turn [F, 3, 3] that swings a hanging arm out, and the angles [F, 2] (degrees)."""
    chest_segment = next((name for name in ("Spine2", "Spine1", "Spine", "Hips") if name in motion.segments), "Hips")
    chest = source_matrices[:, motion.index(chest_segment)]
    down = chest @ np.array([0.0, 0.0, -1.0])
    turns: dict[str, FloatArray] = {}
    angles = np.zeros((motion.frame_count, 2))
    for column, (side, sign) in enumerate((("Left", 1.0), ("Right", -1.0))):
        needed = arm_clearance_deg(rig, side)
        if needed <= 0.0 or f"{side}Arm" not in motion.segments:
            continue
        out = chest @ np.array([sign, 0.0, 0.0])
        upper_arm = motion.directions(f"{side}Arm")
        hanging = np.sum(upper_arm * down, axis=-1)
        cone = math.cos(math.radians(_HANGING_CONE_DEG))
        weight = np.clip((hanging - cone) / (1.0 - cone), 0.0, 1.0)
        abduction = np.degrees(np.arctan2(np.sum(upper_arm * out, axis=-1), hanging))
        angle = np.clip(needed - abduction, 0.0, needed) * weight
        axis = np.cross(down, out)
        axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
        turns[side] = rotations.to_matrix(rotations.axis_angle(axis, np.radians(angle)))
        angles[:, column] = angle
    return turns, angles


def _world_rotations(motion: Motion, rig: TargetRig) -> tuple[FloatArray, FloatArray]:
    """Every rig bone's posed world rotation [F, B, 3, 3], and the arm clearance angles [F, 2]."""
    frames = motion.frame_count
    source = motion.matrices()
    spine = _spine_rotations(motion, motion.rotations, rig)
    turns, angles = _clearance_turns(motion, source, rig)
    world = np.empty((frames, len(rig.names), 3, 3))
    identity = np.broadcast_to(np.eye(3), (frames, 3, 3))
    for index, (name, parent) in enumerate(zip(rig.names, rig.parents, strict=True)):
        if name in spine:
            world[:, index] = rotations.to_matrix(spine[name])
        elif name in LIMB_BONES and name in motion.segments:
            segment = motion.index(name)
            align = rotations.between(rig.rest_direction(name), motion.rest_directions[segment])
            world[:, index] = source[:, segment] @ align
        elif name in motion.segments:
            world[:, index] = source[:, motion.index(name)]
        else:
            world[:, index] = world[:, parent] if parent >= 0 else identity
        side = "Left" if name.startswith("Left") else "Right"
        if side in turns and name in (f"{side}Arm", f"{side}ForeArm", f"{side}Hand") and name in motion.segments:
            world[:, index] = turns[side] @ world[:, index]
    return world, angles


def _forward_kinematics(rig: TargetRig, world: FloatArray, root_head: FloatArray) -> FloatArray:
    """Posed heads [F, B, 3]: the root bone's given [F, 3], bones outside its chain at rest."""
    frames = len(world)
    heads = np.empty((frames, len(rig.names), 3))
    root = rig.index(ROOT_BONE)
    for index, parent in enumerate(rig.parents):
        if index == root:
            heads[:, index] = root_head
        elif parent < 0:
            heads[:, index] = rig.heads[index]
        else:
            offset = rig.heads[index] - rig.heads[parent]
            heads[:, index] = heads[:, parent] + world[:, parent] @ offset
    return heads


def _lowest_skin(rig: TargetRig, world: FloatArray, heads: FloatArray, bones: list[int]) -> FloatArray:
    """Height [F] of the lowest skin point that follows one of ``bones`` (rigidly with its bone)."""
    lowest = np.full(len(world), np.inf)
    for bone in bones:
        points = rig.skin_points[rig.skin_bones == bone]
        if len(points) == 0:
            continue
        local = points - rig.heads[bone]
        heights = heads[:, bone, 2][:, None] + np.einsum("fj,pj->fp", world[:, bone, 2, :], local)
        lowest = np.minimum(lowest, heights.min(axis=1))
    return lowest


def retarget(motion: Motion, rig: TargetRig, *, root_motion: bool = False) -> RetargetedClip:
    """Pose ``rig`` with ``motion`` in every frame of the clip.

    ``root_motion=False`` (in place) takes the clip's travel out (:func:`core.motion.in_place`);
    ``True`` keeps it, scaled to the rig. Raises ``ValueError`` when the rig has no ``Hips`` bone.
    """
    if not rig.has(ROOT_BONE):
        raise ValueError(f"the rig has no {ROOT_BONE} bone to move")
    clip = motion if root_motion else in_place(motion)
    world, angles = _world_rotations(clip, rig)
    root = rig.index(ROOT_BONE)
    centre = rig.pelvis_centre()
    scale = float(centre[2]) / clip.hip_height
    pelvis = clip.root_positions * scale
    root_head = pelvis + world[:, root] @ (rig.heads[root] - centre)
    heads = _forward_kinematics(rig, world, root_head)
    moving = rig.descendants(ROOT_BONE)
    lowest = _lowest_skin(rig, world, heads, moving)
    if np.all(np.isfinite(lowest)):
        lift = scale * np.maximum(clip.clearance, 0.0) - lowest
        heads[:, moving, 2] += lift[:, None]
        lowest = lowest + lift
    keyed = [
        index
        for index in moving
        if not np.allclose(_local(world, rig.parents[index], index), np.eye(3), atol=1e-9) or index == root
    ]
    quaternions = np.stack(
        [
            rotations.from_matrix(rig.axes[index].T @ _local(world, rig.parents[index], index) @ rig.axes[index])
            for index in keyed
        ],
        axis=1,
    )
    root_location = (heads[:, root] - rig.heads[root]) @ rig.axes[root] / rig.unit_m
    return RetargetedClip(
        name=motion.name,
        fps=motion.fps,
        bones=tuple(rig.names[index] for index in keyed),
        quaternions=rotations.continuous(quaternions),
        root_location=root_location,
        world_rotations=world,
        heads=heads,
        lowest=lowest,
        arm_clearance_deg=angles,
    )


def _local(world: FloatArray, parent: int, index: int) -> FloatArray:
    """Rotations [F, 3, 3] of bone ``index`` relative to its parent, in world rest axes."""
    if parent < 0:
        return np.asarray(world[:, index])
    return np.asarray(np.swapaxes(world[:, parent], -1, -2) @ world[:, index])
