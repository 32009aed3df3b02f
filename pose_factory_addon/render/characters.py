"""Generated people in Blender: a rest-pose body from the Anny worker becomes a rigged, skinned, shaded character file.

Each body (``.npz``, see ``pose_factory_addon/anny_worker.py``) becomes a 52-bone armature with
Mixamo names (``mixamorig:*``, its bone frames kept: heads, tails and rolls from Anny's rest
frames) and one skinned mesh in the importer's normalised pose (upright, facing -Y, feet on
z = 0, metres), with a skin material from the tone and darker eye, mouth, lip and brow regions.
The armature carries a ``pose_factory_character`` custom property (the spec, what was measured,
and the rest positions of the landmark vertices) that FBX and glTF keep, so the renderer places
face and heel landmarks on exactly those vertices wherever the file goes.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import bpy
import numpy as np

from ..core.characters import CharacterSpec, skin_tone_for
from ..core.errors import CharacterError
from ..core.generation import GENERATED_CHARACTER_PROPERTY, GeneratedBody, generate_bodies, generated_character_record
from .export import export_fbx, export_glb
from .pipeline import quiet_output

FORMATS: Final = ("fbx", "glb")
_EYE_COLOUR: Final = (0.12, 0.09, 0.07)
_CAVITY_COLOUR: Final = (0.08, 0.03, 0.03)
_LIP_DARKEN: Final = (0.78, 0.55, 0.55)  # lips: the skin tone times this (redder, darker)
_BROW_COLOUR: Final = (0.1, 0.07, 0.05)
_SKIN, _EYES, _CAVITY, _LIPS, _BROWS = range(5)

Progress = Callable[[int, int], None]


def _material(name: str, colour: tuple[float, float, float], roughness: float) -> bpy.types.Material:
    material = bpy.data.materials.new(name)
    material.diffuse_color = (*colour, 1.0)
    material.use_nodes = True
    principled = material.node_tree.nodes.get("Principled BSDF")
    if principled is not None:
        principled.inputs["Base Color"].default_value = (*colour, 1.0)
        principled.inputs["Roughness"].default_value = roughness
    return material


def _srgb_to_linear(colour: Sequence[float]) -> tuple[float, float, float]:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    return (channel(colour[0]), channel(colour[1]), channel(colour[2]))


def _face_regions(data: Any) -> np.ndarray:
    """Material index [F]: Anny's eye and cavity regions, plus lips and brows placed around the landmark vertices."""
    regions = np.asarray(data["face_regions"], dtype=np.int64).copy()
    vertices, faces = np.asarray(data["vertices"]), np.asarray(data["faces"])
    landmarks = dict(zip((str(name) for name in data["landmark_names"]), np.asarray(data["landmarks"]), strict=True))
    if not {"mouth_left", "mouth_right", "left_eye_inner", "left_eye_outer", "left_eye"} <= landmarks.keys():
        return regions
    centres = vertices[faces].mean(axis=1)
    mouth = (landmarks["mouth_left"] + landmarks["mouth_right"]) / 2
    half_mouth = abs(float(landmarks["mouth_left"][0] - landmarks["mouth_right"][0])) / 2
    lips = (
        (np.abs(centres[:, 0] - mouth[0]) < 0.95 * half_mouth)
        & (np.abs(centres[:, 2] - mouth[2]) < 0.45 * half_mouth)
        & (centres[:, 1] < mouth[1] + 0.004)
    )
    eye = landmarks["left_eye"]
    inner, outer = abs(float(landmarks["left_eye_inner"][0])), abs(float(landmarks["left_eye_outer"][0]))
    brows = (
        (np.abs(centres[:, 0]) > 0.8 * inner)
        & (np.abs(centres[:, 0]) < 1.15 * outer)
        & (centres[:, 2] > eye[2] + 0.55 * (outer - inner))
        & (centres[:, 2] < eye[2] + 0.85 * (outer - inner))
        & (centres[:, 1] < eye[1] + 0.012)
    )
    regions[(regions == _SKIN) & lips] = _LIPS
    regions[(regions == _SKIN) & brows] = _BROWS
    return regions


def _armature(scene: bpy.types.Scene, name: str, data: Any) -> bpy.types.Object:
    armature_data = bpy.data.armatures.new(name)
    armature = bpy.data.objects.new(name, armature_data)
    scene.collection.objects.link(armature)
    view_layer = scene.view_layers[0]
    view_layer.objects.active = armature
    names = [str(bone) for bone in data["bone_names"]]
    with bpy.context.temp_override(scene=scene, view_layer=view_layer, active_object=armature, object=armature):
        bpy.ops.object.mode_set(mode="EDIT")
        for index, bone_name in enumerate(names):
            bone = armature_data.edit_bones.new(bone_name)
            bone.head = data["bone_heads"][index].tolist()
            bone.tail = data["bone_tails"][index].tolist()
            bone.align_roll(data["bone_matrices"][index][:3, 2].tolist())
            parent = int(data["bone_parents"][index])
            if parent >= 0:
                bone.parent = armature_data.edit_bones[names[parent]]
        bpy.ops.object.mode_set(mode="OBJECT")
    return armature


def _mesh(
    scene: bpy.types.Scene, name: str, data: Any, armature: bpy.types.Object, tone: tuple[float, float, float]
) -> bpy.types.Object:
    mesh = bpy.data.meshes.new(f"{name}_Body")
    mesh.from_pydata(np.asarray(data["vertices"], dtype=np.float64).tolist(), [], np.asarray(data["faces"]).tolist())
    mesh.polygons.foreach_set("use_smooth", [True] * len(mesh.polygons))
    uv_layer = mesh.uv_layers.new(name="UVMap")
    uv_layer.data.foreach_set("uv", np.asarray(data["uvs"], dtype=np.float32).reshape(-1))
    skin = _srgb_to_linear(tone)
    lips = (skin[0] * _LIP_DARKEN[0], skin[1] * _LIP_DARKEN[1], skin[2] * _LIP_DARKEN[2])
    for material in (
        _material(f"{name}_Skin", skin, 0.5),
        _material(f"{name}_Eyes", _EYE_COLOUR, 0.2),
        _material(f"{name}_Cavity", _CAVITY_COLOUR, 0.8),
        _material(f"{name}_Lips", lips, 0.4),
        _material(f"{name}_Brows", _BROW_COLOUR, 0.8),
    ):
        mesh.materials.append(material)
    mesh.polygons.foreach_set("material_index", _face_regions(data).astype(np.int32))
    mesh.update()
    body = bpy.data.objects.new(f"{name}_Body", mesh)
    scene.collection.objects.link(body)
    body.parent = armature
    bone_indices, weights = np.asarray(data["weight_bones"]), np.asarray(data["weights"])
    for bone_index, bone_name in enumerate(str(bone) for bone in data["bone_names"]):
        rows, columns = np.nonzero((bone_indices == bone_index) & (weights > 0.0))
        if len(rows) == 0:
            continue
        group = body.vertex_groups.new(name=bone_name)
        values = weights[rows, columns]
        for weight in np.unique(values):
            group.add(rows[values == weight].tolist(), float(weight), "REPLACE")
    modifier = body.modifiers.new("Armature", "ARMATURE")
    modifier.object = armature
    return body


def build_character(scene: bpy.types.Scene, body: GeneratedBody, tone: tuple[float, float, float]) -> bpy.types.Object:
    """Build ``body`` (a worker ``.npz``) into ``scene`` as a rigged, shaded character; returns its armature."""
    if body.npz is None:
        raise CharacterError(f"{body.name}: {body.error or 'no body was generated'}")
    with np.load(body.npz, allow_pickle=False) as data:
        armature = _armature(scene, body.name, data)
        _mesh(scene, body.name, data, armature, tone)
        landmarks = dict(zip((str(name) for name in data["landmark_names"]), np.asarray(data["landmarks"]).tolist(), strict=True))
    armature[GENERATED_CHARACTER_PROPERTY] = json.dumps(generated_character_record(body, tone, landmarks), sort_keys=True)
    return armature


def _remove_scene(scene: bpy.types.Scene) -> None:
    objects = list(scene.collection.all_objects)
    blocks = [obj.data for obj in objects]
    materials = {slot.material for obj in objects for slot in obj.material_slots if slot.material}
    for obj in objects:
        bpy.data.objects.remove(obj)
    for block in blocks:
        if isinstance(block, bpy.types.Mesh):
            bpy.data.meshes.remove(block)
        elif isinstance(block, bpy.types.Armature):
            bpy.data.armatures.remove(block)
    for material in materials:
        bpy.data.materials.remove(material)
    bpy.data.scenes.remove(scene)


def write_character(body: GeneratedBody, out_dir: Path, formats: Sequence[str] = FORMATS) -> dict[str, Any]:
    """Write ``<name>.fbx`` / ``<name>.glb`` and ``<name>.json`` (spec and measurements) into ``out_dir``.

    Builds in a temporary scene, so the current scene is left alone. Returns the JSON record.
    """
    tone = body.spec.skin_tone or skin_tone_for(_ethnicity(body), body.spec.seed)
    scene = bpy.data.scenes.new(f"PoseFactoryCharacter_{body.name}")
    try:
        armature = build_character(scene, body, tone)
        record = json.loads(armature[GENERATED_CHARACTER_PROPERTY])
        with bpy.context.temp_override(scene=scene, view_layer=scene.view_layers[0]), quiet_output():
            for extension in formats:
                path = out_dir / f"{body.name}.{extension}"
                if extension == "fbx":
                    export_fbx(path, animation=False)
                else:
                    export_glb(path, animations=False)
    finally:
        _remove_scene(scene)
    record["files"] = [f"{body.name}.{extension}" for extension in formats]
    (out_dir / f"{body.name}.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return record


def _ethnicity(body: GeneratedBody) -> tuple[float, float, float]:
    weights = np.array([body.phenotype.get(name, 1 / 3) for name in ("african", "asian", "caucasian")], dtype=np.float64)
    weights = weights / weights.sum() if weights.sum() > 0 else np.full(3, 1 / 3)
    return (float(weights[0]), float(weights[1]), float(weights[2]))


def generate_characters(
    specs: Sequence[CharacterSpec],
    out_dir: Path,
    progress: Progress | None = None,
    formats: Sequence[str] = FORMATS,
    python: str | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Generate ``specs`` into ``out_dir``: one character file per format and a JSON record each.

    Returns the records of the people made and one error line per person that could not be
    made. ``progress`` gets ``(steps done, steps total)``: the body, then the files, per person.

    Raises:
        CharacterError: no characters interpreter, or the generator crashed.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    total = 2 * len(specs)
    bodies_dir = Path(tempfile.mkdtemp(prefix="pose-factory-bodies-"))
    try:
        run = generate_bodies(specs, bodies_dir, (lambda done, _: progress(done, total)) if progress else None, python)
        records: list[dict[str, Any]] = []
        errors: list[str] = []
        for index, body in enumerate(run.bodies):
            if body.error:
                errors.append(f"{body.name}: {body.error}")
            else:
                records.append(write_character(body, out_dir, formats))
            if progress is not None:
                progress(len(specs) + index + 1, total)
    finally:
        shutil.rmtree(bodies_dir, ignore_errors=True)
    return records, errors
