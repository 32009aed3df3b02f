"""Auto framing from the evaluated (deformed) meshes of every rendered frame.

Two cheap passes over the frames (no rendering): the first finds the bounding box over all
frames, whose centre every camera aims at; the second finds, per view, the distance at
which every vertex of every frame fits the image with the padding margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np

from ..core import defaults
from ..core.camera import OrbitView, fit_distances
from ..core.errors import RenderError
from .importer import Character
from .meshes import evaluated_world_vertices


@dataclass(frozen=True)
class Framing:
    """Box over all frames (world metres), the point the cameras aim at, and a distance per view (metres)."""

    low: np.ndarray
    high: np.ndarray
    centre: np.ndarray
    distances: np.ndarray


def _frame_vertices(character: Character, frame: int) -> np.ndarray:
    bpy.context.scene.frame_set(frame)
    return evaluated_world_vertices(character.meshes, bpy.context.evaluated_depsgraph_get())


def frame_character(
    character: Character,
    frames: list[int],
    views: list[OrbitView],
    fov_x: float,
    fov_y: float,
    padding: float = defaults.PADDING_FACTOR,
) -> Framing:
    """Aim and distance of every view so the whole body is inside the image in every frame."""
    low = np.full(3, np.inf)
    high = np.full(3, -np.inf)
    for frame in frames:
        vertices = _frame_vertices(character, frame)
        if len(vertices):
            low = np.minimum(low, vertices.min(axis=0))
            high = np.maximum(high, vertices.max(axis=0))
    if not np.all(np.isfinite(low)):
        raise RenderError(f"{character.name}: the character has no vertices to frame")
    centre = (low + high) / 2.0
    distances = np.zeros(len(views))
    for frame in frames:
        distances = np.maximum(distances, fit_distances(_frame_vertices(character, frame), centre, views, fov_x, fov_y, padding))
    return Framing(low, high, centre, distances)
