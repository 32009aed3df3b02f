"""Frame selection: the ``--frames`` mini-language, shared by the CLI, manifests and renderer.

Forms: ``1`` or ``1,10,20`` (explicit frames), ``all``, ``every:K`` (every K-th frame from
the first), ``count:K`` (K frames evenly spaced over the animation, first and last included).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from . import defaults

FrameMode = Literal["list", "all", "every", "count"]
_LIST = re.compile(r"^\d+(,\d+)*$")
_STEP = re.compile(r"^(every|count):(\d+)$")


@dataclass(frozen=True)
class FrameSpec:
    """A parsed frame selection; ``value`` is the step (every), the count (count) or unused."""

    mode: FrameMode
    frames: tuple[int, ...] = ()
    value: int = 0

    def __str__(self) -> str:
        if self.mode == "list":
            return ",".join(str(frame) for frame in self.frames)
        if self.mode == "all":
            return "all"
        return f"{self.mode}:{self.value}"


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
    raise ValueError(f"bad frame selection {text!r}: use 1, 1,10,20, all, every:K or count:K")


def select_frames(spec: FrameSpec, first: int, last: int) -> list[int]:
    """The frames of an animation running ``first``..``last`` (inclusive) that ``spec`` picks.

    Explicit frames outside the animation are kept as asked when the character has no
    animation range beyond one frame (a still pose renders the same at any frame); otherwise
    they are clamped away, and an empty result raises ``ValueError``.
    """
    if last < first:
        last = first
    if spec.mode == "all":
        frames = list(range(first, last + 1))
    elif spec.mode == "every":
        frames = list(range(first, last + 1, spec.value))
    elif spec.mode == "count":
        span = last - first
        count = min(spec.value, span + 1)
        frames = sorted({first + round(i * span / max(count - 1, 1)) for i in range(count)})
    else:
        frames = [frame for frame in spec.frames if first <= frame <= last]
        if not frames and first == last:
            frames = list(spec.frames)
    if not frames:
        raise ValueError(f"frames {spec} select nothing in the animation range {first}..{last}")
    return frames[: defaults.MAX_FRAMES_PER_CHARACTER]


def frame_count_estimate(spec: FrameSpec, animation_frames: int = defaults.ASSUMED_ANIMATION_FRAMES) -> int:
    """How many frames ``spec`` will pick, before the animation length is known.

    Exact for explicit lists and ``count:K`` (when the clip is at least K frames long);
    ``all`` and ``every:K`` assume a clip of ``animation_frames`` frames.
    """
    if spec.mode == "list":
        return len(spec.frames)
    if spec.mode == "count":
        return min(spec.value, animation_frames)
    if spec.mode == "every":
        return -(-animation_frames // spec.value)
    return animation_frames
