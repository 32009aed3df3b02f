"""Frame selection: the ``--frames`` mini-language, shared by the CLI, manifests and renderer.

Forms: ``1`` or ``1,10,20`` (explicit frames; each must lie in the clip), ``all``, ``every:K``
(every K-th frame from the first), ``count:K`` (K frames evenly spaced over the clip) and
``diverse:K`` (the K most different poses of the clip, by farthest-point sampling).

A dataset gains nothing from two images of one pose, so ``count`` and ``diverse`` look at
the poses: a looping clip whose last frame repeats its first loses that end frame and is
spaced as a loop, and no two chosen frames have matching poses. Poses are root-relative 3D
joint positions (metres, [F, J, 3]) that the renderer samples from the rig.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from . import defaults

FrameMode = Literal["list", "all", "every", "count", "diverse"]
POSE_MODES: Final = ("count", "diverse")
_LIST = re.compile(r"^\d+(,\d+)*$")
_STEP = re.compile(r"^(every|count|diverse):(\d+)$")
_FORMS = "1, 1,10,20, all, every:K, count:K or diverse:K"
FRAME_SPEC_HELP: Final = "1 | 1,10,20 | all | every:K | count:K (evenly, no repeated pose) | diverse:K (most different poses)"
_CYCLE_STEP_FACTOR: Final = 1.5  # a last-to-first step at most this times a large (90th percentile) frame step closes a cycle


@dataclass(frozen=True)
class FrameSpec:
    """A parsed frame selection; ``value`` is the step (every), the count (count, diverse) or unused."""

    mode: FrameMode
    frames: tuple[int, ...] = ()
    value: int = 0

    def __str__(self) -> str:
        if self.mode == "list":
            return ",".join(str(frame) for frame in self.frames)
        if self.mode == "all":
            return "all"
        return f"{self.mode}:{self.value}"

    @property
    def needs_poses(self) -> bool:
        """Whether :func:`select_frames` must see the clip's poses (``count`` and ``diverse``)."""
        return self.mode in POSE_MODES


@dataclass(frozen=True)
class FrameChoice:
    """The chosen frames (ascending), whether the clip was found to loop, and for each chosen frame
    the pose distance (metres, mean over joints) to its nearest chosen neighbour when poses were known."""

    frames: list[int]
    loop: bool = False
    pose_distances_m: list[float | None] = field(default_factory=list)


def parse_frame_spec(text: str) -> FrameSpec:
    """Parse ``--frames``; raises ``ValueError`` with the accepted forms on bad input."""
    spec = str(text).strip().replace(" ", "")
    if spec == "all":
        return FrameSpec("all")
    if _LIST.fullmatch(spec):
        frames = tuple(sorted({int(part) for part in spec.split(",")}))
        if len(frames) > defaults.MAX_FRAMES_PER_CHARACTER:
            raise ValueError(f"bad frame selection: at most {defaults.MAX_FRAMES_PER_CHARACTER} frames may be listed")
        return FrameSpec("list", frames=frames)
    match = _STEP.fullmatch(spec)
    if match:
        value = int(match.group(2))
        if not 1 <= value <= defaults.MAX_FRAMES_PER_CHARACTER:
            raise ValueError(
                f"bad frame selection {text!r}: {match.group(1)}:K needs 1 <= K <= {defaults.MAX_FRAMES_PER_CHARACTER}"
            )
        return FrameSpec(match.group(1), value=value)  # type: ignore[arg-type]
    raise ValueError(f"bad frame selection {text!r}: use {_FORMS}")


def pose_distances(poses: npt.ArrayLike, pose: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Distance [F] (metres) from each of ``poses`` [F, J, 3] to ``pose`` [J, 3]: the mean joint displacement."""
    return np.asarray(
        np.linalg.norm(np.asarray(poses, dtype=np.float64) - np.asarray(pose, dtype=np.float64), axis=-1).mean(axis=-1)
    )


def _same_pose(poses: npt.NDArray[np.float64], pose: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """True [F] where no joint of ``poses`` [F, J, 3] is further than :data:`defaults.SAME_POSE_M` from ``pose``.

    The largest displacement, not the mean: a wave moves one forearm, and that is a new pose.
    """
    return np.asarray(np.linalg.norm(poses - pose, axis=-1).max(axis=-1) < defaults.SAME_POSE_M)


def _loop_span(track: npt.NDArray[np.float64]) -> tuple[bool, int]:
    """Whether the clip loops, and how many of its frames make one cycle.

    A clip whose last pose repeats its first (a closed loop) drops that frame; a clip whose
    last frame is one ordinary step before its first (an open cycle) keeps every frame.
    """
    if len(track) < 3:
        return False, len(track)
    if _same_pose(track[-1:], track[0])[0]:
        return True, len(track) - 1
    steps = np.linalg.norm(track[1:] - track[:-1], axis=-1).mean(axis=-1)
    closing = float(pose_distances(track[-1:], track[0])[0])
    return closing <= _CYCLE_STEP_FACTOR * float(np.percentile(steps, 90)), len(track)


def _nearest_neighbour_distances(poses: npt.NDArray[np.float64], chosen: list[int]) -> list[float | None]:
    if len(chosen) < 2:
        return [None] * len(chosen)
    picked = poses[chosen]
    result: list[float | None] = []
    for index in range(len(chosen)):
        others = np.delete(picked, index, axis=0)
        result.append(round(float(pose_distances(others, picked[index]).min()), 5))
    return result


def _evenly_without_repeats(targets: list[int], span: int, poses: npt.NDArray[np.float64]) -> list[int]:
    """The ``targets`` offsets, each moved to the nearest offset within its share of the clip whose pose
    does not repeat an already chosen one; a target with no such offset nearby is left out."""
    reach = max(span // (2 * max(len(targets), 1)), 0)
    kept: list[int] = []
    for target in targets:
        for shift in sorted(range(-reach, reach + 1), key=lambda value: (abs(value), -value)):
            offset = target + shift
            if 0 <= offset < span and offset not in kept and (not kept or not _same_pose(poses[kept], poses[offset]).any()):
                kept.append(offset)
                break
    return sorted(kept)


def _farthest_points(poses: npt.NDArray[np.float64], count: int) -> list[int]:
    """Up to ``count`` offsets of mutually distant poses, starting from the pose farthest from the mean."""
    nearest = pose_distances(poses, poses.mean(axis=0))
    chosen = [int(np.argmax(nearest))]
    nearest = pose_distances(poses, poses[chosen[0]])
    while len(chosen) < count:
        candidate = int(np.argmax(nearest))
        if _same_pose(poses[chosen], poses[candidate]).any():
            break
        chosen.append(candidate)
        nearest = np.minimum(nearest, pose_distances(poses, poses[candidate]))
    return sorted(chosen)


def _range_text(first: int, last: int) -> str:
    return f"the clip has only frame {first}" if first == last else f"the clip runs from frame {first} to {last}"


def select_frames(spec: FrameSpec, first: int, last: int, poses: npt.ArrayLike | None = None) -> FrameChoice:
    """The frames of a clip running ``first``..``last`` (inclusive) that ``spec`` picks.

    ``poses`` [last - first + 1, J, 3] are the clip's root-relative joint positions (metres),
    required by ``count`` and ``diverse``. A looping clip is spaced as a loop (a repeated end
    frame is dropped, see :func:`_loop_span`), and frames whose poses match an already chosen
    one move to the nearest frame with a new pose (or are left out, so fewer than K frames may come back).

    Raises:
        ValueError: listed frames outside the clip (the message gives its range), or a pose
            mode without poses.
    """
    last = max(last, first)
    if spec.needs_poses:
        if poses is None:
            raise ValueError(f"frames {spec} need the clip's poses")
        track = np.asarray(poses, dtype=np.float64)
        if len(track) != last - first + 1:
            raise ValueError(f"expected {last - first + 1} poses for frames {first}..{last}, got {len(track)}")
        loop, span = _loop_span(track)
        if spec.mode == "diverse":
            offsets = _farthest_points(track[:span], spec.value)
        elif loop:
            count = min(spec.value, span)
            offsets = _evenly_without_repeats(sorted({i * span // count for i in range(count)}), span, track)
        else:
            count = min(spec.value, span)
            offsets = _evenly_without_repeats(
                sorted({round(i * (span - 1) / max(count - 1, 1)) for i in range(count)}), span, track
            )
        return FrameChoice([first + offset for offset in offsets], loop, _nearest_neighbour_distances(track, offsets))
    if spec.mode == "all":
        frames = list(range(first, last + 1))
    elif spec.mode == "every":
        frames = list(range(first, last + 1, spec.value))
    else:
        outside = [frame for frame in spec.frames if not first <= frame <= last]
        if outside:
            shown = ", ".join(str(frame) for frame in outside[:5]) + (", ..." if len(outside) > 5 else "")
            raise ValueError(f"frames {shown} are outside the animation: {_range_text(first, last)}")
        frames = list(spec.frames)
    return FrameChoice(frames[: defaults.MAX_FRAMES_PER_CHARACTER])


def frame_count_estimate(spec: FrameSpec, animation_frames: int = defaults.ASSUMED_ANIMATION_FRAMES) -> int:
    """How many frames ``spec`` will pick, before the animation length is known.

    Exact for explicit lists; ``count:K`` and ``diverse:K`` give at most K (fewer when the clip
    is shorter or repeats poses); ``all`` and ``every:K`` assume a clip of ``animation_frames`` frames.
    """
    if spec.mode == "list":
        return len(spec.frames)
    if spec.mode in POSE_MODES:
        return min(spec.value, animation_frames)
    if spec.mode == "every":
        return -(-animation_frames // spec.value)
    return animation_frames
