"""Vertex positions of evaluated (posed, deformed) meshes as numpy arrays, world metres."""

from __future__ import annotations

import bpy
import numpy as np


def mesh_world_vertices(obj: bpy.types.Object, depsgraph: bpy.types.Depsgraph) -> np.ndarray:
    """World positions [V, 3] of ``obj``'s vertices after modifiers (armature deformation) in ``depsgraph``.

    Vertex indices match the original mesh as long as the modifiers keep the topology
    (armature, shape keys), which is what rigged characters use.
    """
    evaluated = obj.evaluated_get(depsgraph)
    vertices = evaluated.data.vertices
    local = np.empty(len(vertices) * 3, dtype=np.float64)
    vertices.foreach_get("co", local)
    local = local.reshape(-1, 3)
    matrix = np.array(evaluated.matrix_world)
    return local @ matrix[:3, :3].T + matrix[:3, 3]


def evaluated_world_vertices(meshes: list[bpy.types.Object], depsgraph: bpy.types.Depsgraph) -> np.ndarray:
    """All vertices [V, 3] of ``meshes`` in world metres, concatenated in order."""
    parts = [mesh_world_vertices(obj, depsgraph) for obj in meshes]
    return np.concatenate(parts) if parts else np.empty((0, 3))
