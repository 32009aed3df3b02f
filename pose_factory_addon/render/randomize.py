"""Apply sampled scene variety (:mod:`pose_factory_addon.core.randomize`) in Blender: backgrounds, lights, ground, clothing.

Backgrounds are Blender's own world images (``datafiles/studiolights/world``) or the user's
HDRIs as the world, or the user's photos on a camera-facing backdrop. Lights are suns that
follow the camera, so each view of a frame is lit alike. A shadow catcher gives people a
floor. Clothing is painted per face from the skin weights (top over the torso and arms down to
the sleeve length, bottom over the hips and legs down to the trouser length, shoes on the feet)
on each mesh's main material only, so eyes, mouths and other details keep theirs; meshes with
image textures are left as the artist made them. Helper objects carry the
:data:`SCENERY_PROPERTY` mark: they never hide a keypoint and never enter the person mask.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import bpy
import numpy as np
from mathutils import Matrix

from ..core.camera import FloatArray
from ..core.randomize import HDRI_SUFFIXES, PHOTO_SUFFIXES, Environment, Garment, Look, kelvin_rgb
from ..core.skeletons import canonical_bone_name
from .importer import Character
from .rest_skin import RestSkin
from .scene import LIGHT_COLLECTION_PROPERTY, sun_light

SCENERY_PROPERTY: Final = "pose_factory_scenery"
_GROUND_SIZE_M: Final = 40.0
_PHOTO_COVER: Final = 1.35  # a backdrop this much wider than the view at its distance, so roll never shows its edge
_FALLBACK_WORLD: Final = (0.42, 0.44, 0.47)


@dataclass(frozen=True)
class BackgroundLibrary:
    """Background images by name: world images (HDRIs) and photos."""

    hdris: dict[str, Path]
    photos: dict[str, Path]

    @classmethod
    def find(cls, user_folder: Path | None) -> BackgroundLibrary:
        """Blender's bundled world images plus the HDRIs and photos of ``user_folder`` (searched recursively)."""
        hdris: dict[str, Path] = {}
        photos: dict[str, Path] = {}
        bundled = bpy.utils.system_resource("DATAFILES", path="studiolights/world")
        for path in sorted(Path(bundled).glob("*.exr")) if bundled else []:
            hdris[path.name] = path
        for path in sorted(user_folder.rglob("*")) if user_folder else []:
            suffix = path.suffix.lower()
            if suffix in HDRI_SUFFIXES:
                hdris[f"user/{path.name}"] = path
            elif suffix in PHOTO_SUFFIXES:
                photos[f"user/{path.name}"] = path
        return cls(hdris, photos)


def _scenery(obj: bpy.types.Object) -> bpy.types.Object:
    obj[SCENERY_PROPERTY] = True
    obj.pass_index = 0
    return obj


def _image(path: Path) -> bpy.types.Image:
    for image in bpy.data.images:
        if image.filepath == str(path):
            return image
    return bpy.data.images.load(str(path), check_existing=True)


def _blurred_photo(path: Path, blur: float, cache: dict[tuple[str, int], Path]) -> Path:
    """A blurred copy of a photo (blur radius as a share of its width, in 0.5 % steps), made once per run."""
    from PIL import Image, ImageFilter

    step = round(blur / 0.005)
    if step == 0:
        return path
    key = (str(path), step)
    if key not in cache:
        with Image.open(path) as image:
            radius = step * 0.005 * image.width
            blurred = image.convert("RGB").filter(ImageFilter.GaussianBlur(radius))
            target = Path(tempfile.mkdtemp(prefix="pose-factory-photo-")) / f"{path.stem}_blur{step}.png"
            blurred.save(target)
        cache[key] = target
    return cache[key]


class SceneDresser:
    """The varied parts of one character's scene; lives as long as that character's renders."""

    def __init__(self, scene: bpy.types.Scene, camera: bpy.types.Object, backgrounds: BackgroundLibrary) -> None:
        self.scene = scene
        self.camera = camera
        self.backgrounds = backgrounds
        self.cycles = scene.render.engine == "CYCLES"
        self.workbench = scene.render.engine == "BLENDER_WORKBENCH"
        self._photo_plane: bpy.types.Object | None = None
        self._ground: bpy.types.Object | None = None
        self._blur_cache: dict[tuple[str, int], Path] = {}
        self.environment: Environment | None = None

    # Environment (per frame) ---------------------------------------------------------

    def set_environment(self, environment: Environment) -> None:
        """Background, lights and ground of the next renders."""
        self.environment = environment
        self._lights(environment)
        background = environment.background
        if self.workbench:
            return  # Workbench lights with its studio matcap: no world image, no catcher
        if background.kind == "hdri":
            self._world_image(self.backgrounds.hdris[background.name], background.rotation_deg, background.strength)
        else:
            self._plain_world(0.35 if background.kind == "photo" else 0.25)
        self._show_photo(background.kind == "photo")
        if self.cycles:
            self._ground_plane().hide_render = not environment.ground

    def _lights(self, environment: Environment) -> None:
        for obj in [obj for obj in self.scene.objects if obj.get(LIGHT_COLLECTION_PROPERTY)]:
            light = obj.data
            bpy.data.objects.remove(obj)
            bpy.data.lights.remove(light)
        for index, light in enumerate(environment.lights):
            azimuth, elevation = math.radians(light.azimuth_deg), math.radians(light.elevation_deg)
            toward_light = (math.sin(azimuth) * math.cos(elevation), math.sin(elevation), math.cos(azimuth) * math.cos(elevation))
            sun = sun_light(
                self.scene, f"{light.role.capitalize()}{index}", tuple(-value for value in toward_light), light.energy
            )
            sun.data.color = kelvin_rgb(light.kelvin)
            sun.data.angle = math.radians(light.angle_deg)
            sun.parent = self.camera
            sun.matrix_parent_inverse = Matrix.Identity(4)

    def _world_nodes(self) -> bpy.types.NodeTree:
        world = self.scene.world or bpy.data.worlds.new("PoseFactoryWorld")
        self.scene.world = world
        world.use_nodes = True
        if self.cycles:
            # No importance map for the world: the suns carry the key light and the world image the fill,
            # which the denoiser smooths; building and sampling the map cost 12 % of every image (measured
            # at 512x512, 4 samples) for a mean difference under 1 % of the pixel range.
            world.cycles.sampling_method = "NONE"
        tree = world.node_tree
        for node in list(tree.nodes):
            tree.nodes.remove(node)
        return tree

    def _world_image(self, path: Path, rotation_deg: float, strength: float) -> None:
        tree = self._world_nodes()
        coordinates = tree.nodes.new("ShaderNodeTexCoord")
        mapping = tree.nodes.new("ShaderNodeMapping")
        mapping.inputs["Rotation"].default_value = (0.0, 0.0, math.radians(rotation_deg))
        texture = tree.nodes.new("ShaderNodeTexEnvironment")
        texture.image = _image(path)
        background = tree.nodes.new("ShaderNodeBackground")
        background.inputs["Strength"].default_value = strength
        output = tree.nodes.new("ShaderNodeOutputWorld")
        tree.links.new(coordinates.outputs["Generated"], mapping.inputs["Vector"])
        tree.links.new(mapping.outputs["Vector"], texture.inputs["Vector"])
        tree.links.new(texture.outputs["Color"], background.inputs["Color"])
        tree.links.new(background.outputs["Background"], output.inputs["Surface"])

    def _plain_world(self, strength: float) -> None:
        tree = self._world_nodes()
        background = tree.nodes.new("ShaderNodeBackground")
        background.inputs["Color"].default_value = (*_FALLBACK_WORLD, 1.0)
        background.inputs["Strength"].default_value = strength
        output = tree.nodes.new("ShaderNodeOutputWorld")
        tree.links.new(background.outputs["Background"], output.inputs["Surface"])

    def _ground_plane(self) -> bpy.types.Object:
        if self._ground is None:
            mesh = bpy.data.meshes.new("PoseFactoryGround")
            half = _GROUND_SIZE_M / 2.0
            mesh.from_pydata([(-half, -half, 0.0), (half, -half, 0.0), (half, half, 0.0), (-half, half, 0.0)], [], [(0, 1, 2, 3)])
            ground = _scenery(bpy.data.objects.new("PoseFactoryGround", mesh))
            ground.is_shadow_catcher = True
            self.scene.collection.objects.link(ground)
            self._ground = ground
        return self._ground

    def _show_photo(self, shown: bool) -> None:
        if self._photo_plane is not None:
            self._photo_plane.hide_render = not shown

    # Per image -----------------------------------------------------------------------

    def place_backdrop(self, camera_matrix: FloatArray, aim: FloatArray, fov: float) -> None:
        """Put the photo backdrop (when this frame has one) behind the character, facing this image's camera."""
        environment = self.environment
        if environment is None or environment.background.kind != "photo" or self.workbench:
            return
        background = environment.background
        location = np.asarray(camera_matrix)[:3, 3]
        direction = np.asarray(aim) - location
        direction /= np.linalg.norm(direction)
        centre = np.asarray(aim) + direction * background.distance_m
        width = 2.0 * float(np.linalg.norm(centre - location)) * math.tan(fov / 2.0) * _PHOTO_COVER
        plane = self._photo(self.backgrounds.photos[background.name], background.blur, background.strength)
        image = plane.active_material.node_tree.nodes["Image Texture"].image
        aspect = image.size[1] / image.size[0] if image.size[0] else 1.0
        axes = np.asarray(camera_matrix)[:3, :3]  # the camera's right, up and backward axes: the plane faces the camera
        matrix = np.eye(4)
        matrix[:3, 0] = axes[:, 0] * width / 2.0
        matrix[:3, 1] = axes[:, 1] * width / 2.0 * aspect
        matrix[:3, 2] = axes[:, 2]
        matrix[:3, 3] = centre
        plane.matrix_world = Matrix(matrix.tolist())
        plane.hide_render = False

    def _photo(self, path: Path, blur: float, strength: float) -> bpy.types.Object:
        if self._photo_plane is None:
            mesh = bpy.data.meshes.new("PoseFactoryBackdrop")
            mesh.from_pydata([(-1, -1, 0), (1, -1, 0), (1, 1, 0), (-1, 1, 0)], [], [(0, 1, 2, 3)])
            mesh.uv_layers.new(name="UVMap").data.foreach_set("uv", [0, 0, 1, 0, 1, 1, 0, 1])
            material = bpy.data.materials.new("PoseFactoryBackdrop")
            material.use_nodes = True
            nodes = material.node_tree.nodes
            for node in list(nodes):
                nodes.remove(node)
            texture = nodes.new("ShaderNodeTexImage")
            texture.name = "Image Texture"
            emission = nodes.new("ShaderNodeEmission")
            emission.name = "Emission"
            output = nodes.new("ShaderNodeOutputMaterial")
            material.node_tree.links.new(texture.outputs["Color"], emission.inputs["Color"])
            material.node_tree.links.new(emission.outputs["Emission"], output.inputs["Surface"])
            mesh.materials.append(material)
            self._photo_plane = _scenery(bpy.data.objects.new("PoseFactoryBackdrop", mesh))
            self._photo_plane.visible_shadow = False
            self.scene.collection.objects.link(self._photo_plane)
        nodes = self._photo_plane.active_material.node_tree.nodes
        nodes["Image Texture"].image = _image(_blurred_photo(path, blur, self._blur_cache))
        nodes["Emission"].inputs["Strength"].default_value = strength
        return self._photo_plane


# Clothing --------------------------------------------------------------------------------

_TOP, _BOTTOM, _SHOES, _SKIN = "top", "bottom", "shoes", "skin"
_ARM_BONES: Final = ("Arm", "ForeArm", "Hand")
_LEG_BONES: Final = ("UpLeg", "Leg")


def _srgb_to_linear(colour: Sequence[float]) -> tuple[float, float, float, float]:
    values = [value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4 for value in colour]
    return (values[0], values[1], values[2], 1.0)


def _garment_material(name: str, garment: Garment) -> bpy.types.Material:
    material = bpy.data.materials.new(name)
    material.use_nodes = True
    tree = material.node_tree
    principled = tree.nodes.get("Principled BSDF")
    principled.inputs["Roughness"].default_value = garment.roughness
    base, second = _srgb_to_linear(garment.rgb), _srgb_to_linear(garment.pattern_rgb)
    material.diffuse_color = base
    if garment.pattern == "plain":
        principled.inputs["Base Color"].default_value = base
        return material
    coordinates = tree.nodes.new("ShaderNodeTexCoord")
    if garment.pattern == "checks":
        texture = tree.nodes.new("ShaderNodeTexChecker")
        texture.inputs["Color1"].default_value, texture.inputs["Color2"].default_value = base, second
        texture.inputs["Scale"].default_value = garment.pattern_scale
        tree.links.new(coordinates.outputs["Object"], texture.inputs["Vector"])
        tree.links.new(texture.outputs["Color"], principled.inputs["Base Color"])
        return material
    if garment.pattern == "stripes":
        texture = tree.nodes.new("ShaderNodeTexWave")
        texture.bands_direction = "Z"
        texture.inputs["Scale"].default_value = garment.pattern_scale
    else:
        texture = tree.nodes.new("ShaderNodeTexNoise")
        texture.inputs["Scale"].default_value = garment.pattern_scale
    texture.inputs["Detail"].default_value = 0.0  # one octave: a cloth pattern needs no fractal detail, which costs time
    tree.links.new(coordinates.outputs["Object"], texture.inputs["Vector"])
    steps = tree.nodes.new("ShaderNodeValToRGB")
    steps.color_ramp.interpolation = "CONSTANT"
    steps.color_ramp.elements[0].color, steps.color_ramp.elements[1].color = base, second
    steps.color_ramp.elements[1].position = 0.55
    tree.links.new(texture.outputs["Fac"], steps.inputs["Fac"])
    tree.links.new(steps.outputs["Color"], principled.inputs["Base Color"])
    return material


def _along(points: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Where ``points`` [N, 3] lie along ``start``-``end`` (0 at the start, 1 at the end)."""
    segment = end - start
    return np.asarray((points - start) @ segment / max(float(segment @ segment), 1e-12))


def _regions(skin: RestSkin, face_bone: np.ndarray, centres: np.ndarray, look: Look) -> np.ndarray:
    """The clothing region of every face [F] from its owner bone and its place along the limb."""
    names = np.array([canonical_bone_name(str(bone)) for bone in face_bone], dtype=str)
    regions = np.full(len(names), _SKIN, dtype=object)
    regions[np.char.startswith(names, "Spine") | np.isin(names, ("LeftShoulder", "RightShoulder"))] = _TOP
    regions[names == "Hips"] = _BOTTOM
    heads = skin.bone_heads
    for side in ("Left", "Right"):
        regions[np.char.startswith(names, f"{side}Foot") | np.char.startswith(names, f"{side}Toe")] = _SHOES
        for limb, (start, end), cut, region in (
            ((f"{side}Arm", f"{side}ForeArm"), (f"{side}Arm", f"{side}Hand"), look.sleeve, _TOP),
            ((f"{side}UpLeg", f"{side}Leg"), (f"{side}UpLeg", f"{side}Foot"), look.trouser, _BOTTOM),
        ):
            on_limb = np.isin(names, limb)
            if on_limb.any() and start in heads and end in heads:
                covered = _along(centres[on_limb], heads[start], heads[end]) <= cut
                regions[np.nonzero(on_limb)[0][covered]] = region
    return regions


def _textured(material: bpy.types.Material | None) -> bool:
    return bool(
        material and material.use_nodes and any(node.bl_idname == "ShaderNodeTexImage" for node in material.node_tree.nodes)
    )


def dress(character: Character, skin: RestSkin, look: Look, keep_skin: bool) -> None:
    """Paint ``look`` onto each untextured mesh's main material faces (``keep_skin``: leave skin faces as they are)."""
    materials = {
        _TOP: _garment_material(f"{character.name}_Top", look.top),
        _BOTTOM: _garment_material(f"{character.name}_Bottom", look.bottom),
        _SHOES: _garment_material(f"{character.name}_Shoes", look.shoes),
        _SKIN: _garment_material(f"{character.name}_Skin", Garment(look.skin_rgb or (0.8, 0.65, 0.55), 0.5)),
    }
    by_name = {mesh.name: mesh for mesh in skin.meshes}
    for obj in character.meshes:
        mesh = obj.data
        if any(_textured(slot.material) for slot in obj.material_slots):
            continue
        current = np.empty(len(mesh.polygons), dtype=np.int32)
        mesh.polygons.foreach_get("material_index", current)
        main = int(np.bincount(current).argmax()) if len(current) else 0
        rest = by_name[obj.name]
        ends = np.append(rest.loop_starts[1:], len(rest.loop_vertices))
        centres = np.array(
            [rest.vertices[rest.loop_vertices[a:b]].mean(axis=0) for a, b in zip(rest.loop_starts, ends, strict=True)]
        )
        regions = _regions(skin, rest.face_bone, centres, look)
        slots = {}
        for region, material in materials.items():
            if region == _SKIN and keep_skin:
                continue
            mesh.materials.append(material)
            slots[region] = len(mesh.materials) - 1
        updated = current.copy()
        for region, slot in slots.items():
            updated[(current == main) & (regions == region)] = slot
        mesh.polygons.foreach_set("material_index", updated)
        mesh.update()
