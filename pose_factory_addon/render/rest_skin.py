"""Facts about a character's skin in its rest pose: positions, normals, and which bone owns each vertex and face.

Ownership comes from vertex-group weights: a vertex belongs to the bone with its largest
weight, a face to the bone with the largest weight summed over its vertices (the whole
character, every mesh). Groups that name no bone of the armature, and vertices or faces with
no weight at all, belong to no bone (``""``). Everything is in world metres after the
importer's normalisation (upright, facing -Y, left side on +X).
"""

from __future__ import annotations

from dataclasses import dataclass

import bpy
import numpy as np
from mathutils import Vector
from mathutils.bvhtree import BVHTree

from ..core.skeletons import canonical_bone_name
from .importer import Character
from .meshes import mesh_world_vertices

_NO_BONE = ""


@dataclass
class MeshSkin:
    """One skinned mesh at rest: ``vertices`` and ``normals`` [V, 3], ``vertex_bone`` [V] and
    ``face_bone`` [F] canonical bone names, ``loop_starts`` [F] and ``loop_vertices`` [L] its polygons."""

    name: str
    vertices: np.ndarray
    normals: np.ndarray
    vertex_bone: np.ndarray
    face_bone: np.ndarray
    loop_starts: np.ndarray
    loop_vertices: np.ndarray

    def polygons(self) -> list[list[int]]:
        """Vertex indices of every polygon (for a BVH tree)."""
        ends = np.append(self.loop_starts[1:], len(self.loop_vertices))
        return [self.loop_vertices[start:end].tolist() for start, end in zip(self.loop_starts, ends, strict=True)]


@dataclass
class RestSkin:
    """The rest pose of a character: its meshes' skin, bone heads/tails and parents (canonical names)."""

    meshes: list[MeshSkin]
    bone_heads: dict[str, np.ndarray]
    bone_tails: dict[str, np.ndarray]
    bone_parents: dict[str, str]

    @property
    def height(self) -> float:
        """Standing height of the rest mesh, metres."""
        z = np.concatenate([mesh.vertices[:, 2] for mesh in self.meshes if len(mesh.vertices)])
        return float(np.ptp(z))

    def surface_tree(self) -> tuple[BVHTree, np.ndarray]:
        """A BVH tree over every face of every mesh, and the owner bone [F] of each of its faces."""
        vertices: list[np.ndarray] = []
        polygons: list[list[int]] = []
        owners: list[np.ndarray] = []
        offset = 0
        for mesh in self.meshes:
            vertices.append(mesh.vertices)
            polygons.extend([[index + offset for index in polygon] for polygon in mesh.polygons()])
            owners.append(mesh.face_bone)
            offset += len(mesh.vertices)
        tree = BVHTree.FromPolygons([Vector(v) for v in np.concatenate(vertices).tolist()], polygons)
        return tree, np.concatenate(owners)


def _weights(obj: bpy.types.Object, bone_names: set[str]) -> tuple[np.ndarray, np.ndarray]:
    """Weights [V, G] per vertex and bone group, and the canonical bone name [G] of each group."""
    groups = [canonical_bone_name(group.name) for group in obj.vertex_groups]
    weights = np.zeros((len(obj.data.vertices), len(groups) + 1))
    for vertex in obj.data.vertices:
        for element in vertex.groups:
            if element.group < len(groups) and groups[element.group] in bone_names:
                weights[vertex.index, element.group] = element.weight
    return weights, np.array([*groups, _NO_BONE], dtype=object)


def _owners(weights: np.ndarray, names: np.ndarray) -> np.ndarray:
    """The name of the heaviest group per row, ``""`` where a row has no weight."""
    best = np.argmax(weights, axis=1)
    best[weights.max(axis=1) <= 0.0] = len(names) - 1
    return np.asarray(names[best], dtype=object)


def _mesh_skin(obj: bpy.types.Object, depsgraph: bpy.types.Depsgraph, bone_names: set[str]) -> MeshSkin:
    mesh = obj.data
    loop_starts = np.empty(len(mesh.polygons), dtype=np.int64)
    mesh.polygons.foreach_get("loop_start", loop_starts)
    loop_vertices = np.empty(len(mesh.loops), dtype=np.int64)
    mesh.loops.foreach_get("vertex_index", loop_vertices)
    weights, names = _weights(obj, bone_names)
    face_weights = np.add.reduceat(weights[loop_vertices], loop_starts, axis=0) if len(loop_starts) else weights[:0]
    evaluated = obj.evaluated_get(depsgraph)
    normals = np.empty(len(evaluated.data.vertices) * 3)
    evaluated.data.vertex_normals.foreach_get("vector", normals)
    rotation = np.array(evaluated.matrix_world)[:3, :3]
    world_normals = normals.reshape(-1, 3) @ rotation.T
    world_normals /= np.maximum(np.linalg.norm(world_normals, axis=1, keepdims=True), 1e-12)
    return MeshSkin(
        obj.name,
        mesh_world_vertices(obj, depsgraph),
        world_normals,
        _owners(weights, names),
        _owners(face_weights, names),
        loop_starts,
        loop_vertices,
    )


def rest_skin(character: Character) -> RestSkin:
    """The character's skin and skeleton in the rest pose (the armature is put back as it was)."""
    data = character.armature.data
    bone_names = {canonical_bone_name(bone.name) for bone in data.bones}
    pose_position = data.pose_position
    data.pose_position = "REST"
    bpy.context.view_layer.update()
    try:
        depsgraph = bpy.context.evaluated_depsgraph_get()
        meshes = [_mesh_skin(obj, depsgraph, bone_names) for obj in character.meshes]
    finally:
        data.pose_position = pose_position
        bpy.context.view_layer.update()
    matrix = character.armature.matrix_world
    heads = {canonical_bone_name(bone.name): np.array(matrix @ bone.head_local) for bone in data.bones}
    tails = {canonical_bone_name(bone.name): np.array(matrix @ bone.tail_local) for bone in data.bones}
    parents = {
        canonical_bone_name(bone.name): canonical_bone_name(bone.parent.name) if bone.parent else "" for bone in data.bones
    }
    return RestSkin(meshes, heads, tails, parents)
