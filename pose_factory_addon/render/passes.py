"""Depth, person mask and body-part mask from the same render as the image, written by Blender's compositor.

No extra render: the view layer's data passes go through a File Output node into a scratch
folder while the image renders; :meth:`Passes.collect` then moves them next to the image:

* ``<stem>_depth.png``: 16-bit, millimetres along the camera axis (OpenCV ``Z``), 0 where
  nothing is closer than 65 m;
* ``<stem>_mask.png``: 8-bit, 255 on the person, 0 elsewhere;
* ``<stem>_parts.png``: 8-bit part indices (:data:`pose_factory_addon.core.body_parts.PARTS`),
  0 off the person.

Where the mask comes from depends on the engine, because each has a different set of passes:
Cycles writes the object index (the character's meshes have pass index 1); EEVEE has no index
passes but has Cryptomatte, whose object matte covers the character's meshes (a pixel is on
the person when they cover at least half of it); Workbench has neither, so its mask is the
alpha of a transparent film, composited back onto the studio grey for the image.

Parts need Cycles: every material of the character is copied once per body part with the
part as its pass index, each face gets the copy for its part (from its owner bone's skin
weights), and the material index pass is the part. Cycles writes index passes from one
sample per pixel, not averaged over the filter like the image, so a pixel between the left
hand (7) and the left upper leg (9) is one of them, never the right hand (8), and the parts
cover exactly the mask's pixels.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import bpy
import numpy as np

from ..core.body_parts import part_of_bone
from .rest_skin import RestSkin

PERSON_PASS_INDEX: Final = 1
_DEPTH_LIMIT_M: Final = 65.0  # 65,535 mm, the largest 16-bit value
_SPLIT_PROPERTY: Final = "pose_factory_parts"
SUFFIXES: Final = {"depth": "_depth.png", "mask": "_mask.png", "parts": "_parts.png"}


def _math(tree: bpy.types.NodeTree, operation: str, first: object, second: object) -> bpy.types.NodeSocket:
    node = tree.nodes.new("CompositorNodeMath")
    node.operation = operation
    for index, value in enumerate((first, second)):
        if isinstance(value, float):
            node.inputs[index].default_value = value
        else:
            tree.links.new(value, node.inputs[index])
    return node.outputs[0]


def _split_materials_by_part(obj: bpy.types.Object, face_bone: np.ndarray) -> None:
    """Give each face a copy of its material whose pass index is the face's body part (shared copies per
    (material, part)); a face without a material gets a plain grey one, so it still carries its part."""
    mesh = obj.data
    if mesh.get(_SPLIT_PROPERTY):
        return
    parts = np.array([part_of_bone(str(bone)) for bone in face_bone], dtype=np.int32)
    current = np.zeros(len(mesh.polygons), dtype=np.int32)
    mesh.polygons.foreach_get("material_index", current)
    originals = list(mesh.materials) or [None]
    copies: dict[tuple[int, int], int] = {}
    updated = current.copy()
    for slot, part in sorted({(int(slot), int(part)) for slot, part in zip(current, parts, strict=True)}):
        source = originals[min(slot, len(originals) - 1)]
        copy = source.copy() if source is not None else bpy.data.materials.new(f"{obj.name}_Plain")
        copy.name = f"{source.name if source else obj.name}_part{part}"
        copy.pass_index = part
        mesh.materials.append(copy)
        copies[(slot, part)] = len(mesh.materials) - 1
        updated[(current == slot) & (parts == part)] = copies[(slot, part)]
    mesh.polygons.foreach_set("material_index", updated)
    mesh[_SPLIT_PROPERTY] = True
    mesh.update()


class Passes:
    """The passes of one character's renders: set up once, collected after every image."""

    def __init__(self, scene: bpy.types.Scene, passes: Sequence[str], meshes: Sequence[bpy.types.Object], skin: RestSkin) -> None:
        if "parts" in passes and scene.render.engine != "CYCLES":
            raise ValueError("the parts pass needs Cycles (the standard or quality preset)")
        self.passes = tuple(passes)
        self.scratch = Path(tempfile.mkdtemp(prefix="pose-factory-passes-"))
        self.engine = scene.render.engine
        self.meshes = tuple(meshes)
        if not self.passes:
            return
        view_layer = scene.view_layers[0]
        view_layer.use_pass_z = "depth" in self.passes
        if self.engine == "CYCLES":
            view_layer.use_pass_object_index = bool({"mask", "parts"} & set(self.passes))
            view_layer.use_pass_material_index = "parts" in self.passes
        elif self.engine != "BLENDER_WORKBENCH":
            view_layer.use_pass_cryptomatte_object = "mask" in self.passes
        for obj in meshes:
            obj.pass_index = PERSON_PASS_INDEX
        if "parts" in self.passes:
            by_name = {mesh.name: mesh for mesh in skin.meshes}
            for obj in meshes:
                _split_materials_by_part(obj, by_name[obj.name].face_bone)
        self._build_compositor(scene)

    def _person(self, scene: bpy.types.Scene, tree: bpy.types.NodeTree, layers: bpy.types.Node) -> bpy.types.NodeSocket:
        """1 on the person, 0 elsewhere, from the passes this engine has (see the module docstring)."""
        if self.engine == "CYCLES":
            return _math(tree, "GREATER_THAN", layers.outputs["IndexOB"], 0.5)
        if self.engine == "BLENDER_WORKBENCH":
            return _math(tree, "GREATER_THAN", layers.outputs["Alpha"], 0.5)
        matte = tree.nodes.new("CompositorNodeCryptomatteV2")
        matte.source, matte.scene = "RENDER", scene
        matte.layer_name = f"{scene.view_layers[0].name}.CryptoObject"
        matte.matte_id = ",".join(obj.name for obj in self.meshes)
        tree.links.new(layers.outputs["Image"], matte.inputs["Image"])
        return _math(tree, "GREATER_THAN", matte.outputs["Matte"], 0.5)

    def _build_compositor(self, scene: bpy.types.Scene) -> None:
        scene.use_nodes = True
        tree = scene.node_tree
        for node in list(tree.nodes):
            tree.nodes.remove(node)
        layers = tree.nodes.new("CompositorNodeRLayers")
        composite = tree.nodes.new("CompositorNodeComposite")
        image = layers.outputs["Image"]
        if self.engine == "BLENDER_WORKBENCH" and "mask" in self.passes:
            scene.render.film_transparent = True
            backdrop = tree.nodes.new("CompositorNodeAlphaOver")
            backdrop.inputs[1].default_value = (*scene.world.color, 1.0) if scene.world else (0.42, 0.44, 0.47, 1.0)
            tree.links.new(image, backdrop.inputs[2])
            image = backdrop.outputs[0]
        tree.links.new(image, composite.inputs["Image"])
        output = tree.nodes.new("CompositorNodeOutputFile")
        output.base_path = str(self.scratch)
        output.format.file_format = "PNG"
        output.format.color_mode = "BW"
        output.format.color_depth = "16"
        output.format.compression = 0  # scratch files, read back at once: compressing them is wasted time
        output.file_slots.clear()
        sockets = {
            "depth": lambda: _math(
                tree,
                "MULTIPLY",
                _math(tree, "MULTIPLY", layers.outputs["Depth"], 1000.0 / 65535.0),
                _math(tree, "LESS_THAN", layers.outputs["Depth"], _DEPTH_LIMIT_M),
            ),
            "mask": lambda: self._person(scene, tree, layers),
            "parts": lambda: _math(
                tree, "MULTIPLY", _math(tree, "DIVIDE", layers.outputs["IndexMA"], 65535.0), self._person(scene, tree, layers)
            ),
        }
        for name in self.passes:
            output.file_slots.new(f"{name}_")
            output.file_slots[-1].save_as_render = False
            tree.links.new(sockets[name](), output.inputs[-1])

    def collect(self, frame: int, folder: Path, stem: str) -> dict[str, str]:
        """Move this image's passes next to it (``<stem>_<pass>.png``); returns their file names by pass.

        The compositor writes every slot as 16-bit; masks and part indices are stored as 8-bit.
        """
        from PIL import Image

        written = {}
        for name in self.passes:
            source = self.scratch / f"{name}_{frame:04d}.png"
            target = folder / f"{stem}{SUFFIXES[name]}"
            with Image.open(source) as image:
                values = np.asarray(image)
            if name == "depth":
                Image.fromarray(values.astype(np.uint16)).save(target, compress_level=1)
            else:
                pixels = np.where(values >= 32768, 255, 0) if name == "mask" else np.rint(values)
                Image.fromarray(pixels.astype(np.uint8), mode="L").save(target, compress_level=1)
            source.unlink()
            written[name] = target.name
        return written

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)
