"""Auto framing maths: cameras that follow the character's ground motion and fit its body in every frame.

Mixamo clips come "In Place" or with root motion (the Hips bone walks metres across the
floor while the armature object stays). Framing therefore works in the character's moving
frame: each rendered frame's vertices are shifted by that frame's root offset ``r_f`` (the
horizontal part of the posed root bone's world position; vertical motion such as a jump
stays in the body's box). The box over all frames and the distance per view are computed on
the shifted vertices, and in frame ``f`` every camera aims at ``box centre + r_f`` from the
same distance and direction. An in-place clip has a nearly constant ``r_f``, which gives the
fixed-aim framing of a static character. Labels never depend on this choice: they are
projected through the camera matrix each image was rendered with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from . import defaults
from .camera import FloatArray, OrbitView, fit_distances

ROOT_BONE: Final = "Hips"  # canonical name of the Mixamo root bone whose ground motion the cameras follow

# (world vertices [V, 3], root bone world position [3]) of the rendered frame with the given index, metres
PosedFrame = Callable[[int], tuple[FloatArray, FloatArray]]


@dataclass(frozen=True)
class CameraTrack:
    """Where the orbit cameras aim in each rendered frame and how far they stand (world metres).

    ``low``/``high``/``centre`` [3] describe the body's box over all frames in its moving frame
    (world coordinates minus each frame's root offset); ``distances`` [views] are metres from the
    aim point; ``offsets`` [frames, 3] are the root offsets ``(x, y, 0)`` of the rendered frames.
    """

    low: FloatArray
    high: FloatArray
    centre: FloatArray
    distances: FloatArray
    offsets: FloatArray

    def target(self, frame_index: int) -> FloatArray:
        """The aim point [3] of every camera in the rendered frame ``frame_index`` (0-based in the frame list)."""
        aim: FloatArray = self.centre + self.offsets[frame_index]
        return aim


def ground_offset(root_position: npt.ArrayLike) -> FloatArray:
    """The root's ground-plane offset ``(x, y, 0)`` [3] from its world position [3] (metres)."""
    offset = np.asarray(root_position, dtype=np.float64).reshape(3).copy()
    offset[2] = 0.0
    return offset


def track_body(
    posed_frame: PosedFrame,
    frame_count: int,
    views: list[OrbitView],
    fov_x: float,
    fov_y: float,
    padding: float = defaults.PADDING_FACTOR,
) -> CameraTrack:
    """Fit every view to the body in its moving frame over ``frame_count`` rendered frames.

    ``posed_frame(i)`` gives the world vertices and root position of rendered frame ``i``; it
    is called twice per frame (the box first, then the distances around its centre), so no
    more than one frame's vertices are held at a time. The body fills about ``1 / padding``
    of the tighter image dimension in the tightest frame of each view.

    Raises:
        ValueError: no frame has any vertex.
    """
    offsets = np.zeros((frame_count, 3))
    low = np.full(3, np.inf)
    high = np.full(3, -np.inf)
    for index in range(frame_count):
        vertices, root = posed_frame(index)
        offsets[index] = ground_offset(root)
        if len(vertices):
            moving = np.asarray(vertices, dtype=np.float64) - offsets[index]
            low = np.minimum(low, moving.min(axis=0))
            high = np.maximum(high, moving.max(axis=0))
    if not np.all(np.isfinite(low)):
        raise ValueError("the character has no vertices to frame")
    centre = (low + high) / 2.0
    distances = np.zeros(len(views))
    for index in range(frame_count):
        vertices, _ = posed_frame(index)
        moving = np.asarray(vertices, dtype=np.float64) - offsets[index]
        distances = np.maximum(distances, fit_distances(moving, centre, views, fov_x, fov_y, padding))
    return CameraTrack(low, high, centre, distances, offsets)
