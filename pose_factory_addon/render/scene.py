"""Scene setup: a clean scene, engine settings from a preset, studio or seed lighting, one camera.

Studio lighting is a neutral grey world (ambient from every side) plus three sun lights
parented to the camera (key, fill, rim), so every view is lit the same way: the character is
never a black silhouette, whichever side the camera sees.
"""

from __future__ import annotations

import math

import bpy
import numpy as np
from mathutils import Matrix, Vector

from ..core import defaults
from ..core.camera import FloatArray, intrinsics
from ..core.presets import RenderPreset
from .devices import apply_device

CAMERA_NAME = "PoseFactoryCamera"
LIGHT_COLLECTION_PROPERTY = "pose_factory_light"
_STUDIO_WORLD_COLOUR = (0.42, 0.44, 0.47)
_STUDIO_WORLD_STRENGTH = 0.25
_SEED_WORLD_COLOUR = (0.05, 0.05, 0.05)
# (name, direction the light travels in camera axes (x right, y up, z backward), energy)
_STUDIO_LIGHTS = (
    ("Key", (0.8, -0.5, -0.6), defaults.SEED_SUN_ENERGY),
    ("Fill", (-0.9, -0.1, -0.7), 0.6),
    ("Rim", (-0.3, -0.4, 1.0), 1.2),
)
_SEED_SUN_DIRECTION = (0.3, 0.5, -1.0)  # world axes: from above, slightly from the front-left


def reset_scene() -> bpy.types.Scene:
    """Start from Blender's factory-empty file (this process owns the scene while rendering)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy.context.scene


def configure_render(
    scene: bpy.types.Scene, preset: RenderPreset, width: int, height: int, transparent: bool = False, seed: int = 0
) -> None:
    """Engine, samples, resolution and PNG output for ``preset``; ``transparent`` renders the background as alpha 0;
    ``seed`` is Cycles' sampling seed (the only randomness in a render)."""
    render = scene.render
    render.engine = preset.engine
    render.resolution_x, render.resolution_y = width, height
    render.resolution_percentage = 100
    render.pixel_aspect_x = render.pixel_aspect_y = 1.0
    render.film_transparent = transparent
    render.use_persistent_data = True
    image = render.image_settings
    image.file_format = "PNG"
    image.color_mode = "RGBA" if transparent else "RGB"
    image.color_depth = "8"
    image.compression = 15
    if preset.engine == "CYCLES":
        cycles = scene.cycles
        apply_device(scene)
        cycles.samples = preset.samples
        cycles.use_adaptive_sampling = True
        cycles.use_denoising = preset.denoise
        cycles.denoiser = "OPENIMAGEDENOISE"
        cycles.denoising_quality = preset.denoise_quality
        cycles.denoising_prefilter = "FAST" if preset.denoise_quality == "FAST" else "ACCURATE"
        cycles.max_bounces = 3
        cycles.diffuse_bounces = 2
        cycles.glossy_bounces = 1
        cycles.transmission_bounces = 1
        cycles.volume_bounces = 0
        cycles.transparent_max_bounces = 4
        cycles.caustics_reflective = cycles.caustics_refractive = False
        cycles.use_light_tree = False  # pays off with many lights; with our three suns and a world it costs ~9 % per image
        cycles.seed = seed
    elif preset.engine == "BLENDER_EEVEE_NEXT":
        scene.eevee.taa_render_samples = preset.samples
    else:
        shading = scene.display.shading
        shading.light = "STUDIO"
        shading.color_type = "MATERIAL"
        shading.show_cavity = False
        scene.display.render_aa = "FXAA"


def _world(scene: bpy.types.Scene, colour: tuple[float, float, float], strength: float) -> None:
    world = bpy.data.worlds.new("PoseFactoryWorld")
    world.color = colour
    world.use_nodes = True
    background = world.node_tree.nodes["Background"]
    background.inputs["Color"].default_value = (*colour, 1.0)
    background.inputs["Strength"].default_value = strength
    scene.world = world


def sun_light(scene: bpy.types.Scene, name: str, direction: tuple[float, float, float], energy: float) -> bpy.types.Object:
    """A sun travelling along ``direction`` (camera axes when parented to the camera, world axes otherwise),
    marked as Pose Factory's own light so that scene randomisation can replace it."""
    light = bpy.data.lights.new(name, "SUN")
    light.energy = energy
    light.angle = math.radians(5.0)
    obj = bpy.data.objects.new(name, light)
    obj.rotation_mode = "QUATERNION"
    obj.rotation_quaternion = Vector(direction).normalized().to_track_quat("-Z", "Y")
    obj[LIGHT_COLLECTION_PROPERTY] = True
    scene.collection.objects.link(obj)
    return obj


def add_camera(scene: bpy.types.Scene, fov_deg: float = defaults.CAMERA_FOV_DEG) -> bpy.types.Object:
    """The one camera all views use (moved per view, never re-created); ``fov_deg`` spans the larger image side."""
    data = bpy.data.cameras.new(CAMERA_NAME)
    data.sensor_fit = "AUTO"
    data.angle = math.radians(fov_deg)
    data.clip_start = 0.05
    data.clip_end = 1000.0
    camera = bpy.data.objects.new(CAMERA_NAME, data)
    scene.collection.objects.link(camera)
    scene.camera = camera
    return camera


def add_lighting(scene: bpy.types.Scene, preset: RenderPreset, camera: bpy.types.Object) -> None:
    """Studio lights (world ambient + key/fill/rim following ``camera``) or the seed's single sun."""
    if preset.lighting == "seed":
        _world(scene, _SEED_WORLD_COLOUR, 1.0)
        sun_light(scene, "SeedSun", _SEED_SUN_DIRECTION, defaults.SEED_SUN_ENERGY)
        return
    _world(scene, _STUDIO_WORLD_COLOUR, _STUDIO_WORLD_STRENGTH)
    for name, direction, energy in _STUDIO_LIGHTS:
        sun = sun_light(scene, name, direction, energy)
        sun.parent = camera
        sun.matrix_parent_inverse = Matrix.Identity(4)


def set_camera_matrix(camera: bpy.types.Object, matrix_world: FloatArray) -> None:
    """Place the camera (and the lights that follow it) at a Blender ``matrix_world`` [4, 4]."""
    camera.matrix_world = Matrix(np.asarray(matrix_world).tolist())


def camera_intrinsics(scene: bpy.types.Scene, camera: bpy.types.Object) -> FloatArray:
    """``K`` [3, 3] of ``camera`` at the scene's render resolution (pixels)."""
    render = scene.render
    scale = render.resolution_percentage / 100.0
    data = camera.data
    return intrinsics(
        data.lens,
        data.sensor_width,
        data.sensor_height,
        data.sensor_fit,
        int(render.resolution_x * scale),
        int(render.resolution_y * scale),
        data.shift_x,
        data.shift_y,
        render.pixel_aspect_x,
        render.pixel_aspect_y,
    )


def set_focal_length(camera: bpy.types.Object, focal_mm: float) -> None:
    """A 35 mm equivalent focal length: a 36 mm sensor width fitted to the larger image side."""
    camera.data.sensor_fit = "AUTO"
    camera.data.sensor_width = 36.0
    camera.data.lens = focal_mm
