"""The render loop: each character imported once, each frame evaluated once, every view rendered from it.

For each frame the posed meshes, landmarks and ray-cast scene come from one evaluated
depsgraph, and the single camera moves through every view; the pixels and the labels of an
image therefore always describe the same pose. Output layout (DESIGN.md section 6)::

    <out>/<character>/<view>.png            one frame selected
    <out>/<character>/<view>_f<frame>.png   several frames (frame zero-padded to 4 digits)
    <out>/<character>/<same stem>.json      labels of that image
    <out>/coco_keypoints.json               COCO keypoints of every image (when coco17 is asked)
    <out>/dataset.json                      spec, versions, preset, timings, failures
"""

from __future__ import annotations

import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import bpy
import numpy as np

from .. import __version__
from ..core.camera import (
    OrbitView,
    field_of_view,
    orbit_camera_matrix,
    orbit_views,
    project_points,
    seed_camera_matrix,
    world_to_camera,
)
from ..core.dataset import finish_summary, new_summary, write_dataset_files, write_json
from ..core.drawing import draw_skeleton
from ..core.errors import RenderError
from ..core.frames import frame_count_estimate, parse_frame_spec, select_frames
from ..core.labels import image_label, pixel_bbox
from ..core.manifest import RenderParams
from ..core.presets import RenderPreset, render_preset
from ..core.security import resolve_under
from .framing import frame_character
from .importer import import_character
from .keypoints import LandmarkReader
from .meshes import mesh_world_vertices
from .scene import add_camera, add_lighting, camera_intrinsics, configure_render, reset_scene, set_camera_matrix

Progress = Callable[[int, int], None]
OVERLAY_DIR = "overlays"


def image_stem(view: OrbitView, frame: int, several_frames: bool) -> str:
    """File stem of one image: ``<view>`` or ``<view>_f<frame:04d>``."""
    return f"{view.name}_f{frame:04d}" if several_frames else view.name


def software_versions() -> dict[str, str]:
    """Versions recorded in ``dataset.json``."""
    return {"pose_factory": __version__, "blender": bpy.app.version_string, "python": platform.python_version()}


class _Counter:
    """Images done and expected; the expected count is exact once a character's frames are known."""

    def __init__(self, estimates: dict[str, int], progress: Progress | None) -> None:
        self.expected = dict(estimates)
        self.done = 0
        self.progress = progress

    def settle(self, character: str, images: int) -> None:
        self.expected[character] = images
        self._report()

    def step(self) -> None:
        self.done += 1
        self._report()

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(self.done, max(self.done, sum(self.expected.values())))


@contextmanager
def quiet_output() -> Iterator[None]:
    """Silence Blender's per-render and importer chatter on file descriptors 1 and 2 (it would break progress bars).

    Failures still surface: Blender raises them as Python exceptions after the block.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for descriptor in (*saved, devnull):
            os.close(descriptor)


def _render_still(scene: bpy.types.Scene, path: Path) -> None:
    scene.render.filepath = str(path)
    with quiet_output():
        bpy.ops.render.render(write_still=True)


def _render_character(
    name: str,
    path: Path,
    params: RenderParams,
    preset: RenderPreset,
    out_dir: Path,
    counter: _Counter,
    transparent: bool,
    debug_overlays: bool,
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    width, height = params.resolution
    scene = reset_scene()
    configure_render(scene, preset, width, height, transparent, params.seed)
    camera = add_camera(scene)
    add_lighting(scene, preset, camera)
    started = time.perf_counter()
    with quiet_output():
        character = import_character(path, name)
    reader = LandmarkReader(character)
    spec = parse_frame_spec(params.frames)
    poses = reader.joint_track(scene, character.first_frame, character.last_frame) if spec.needs_poses else None
    choice = select_frames(spec, character.first_frame, character.last_frame, poses)
    frames = choice.frames
    import_s = time.perf_counter() - started
    views = orbit_views(params.angles, params.elevations)
    counter.settle(name, len(frames) * len(views))
    started = time.perf_counter()
    K = camera_intrinsics(scene, camera)
    framing = frame_character(character, frames, views, *field_of_view(K, width, height))
    framing_s = time.perf_counter() - started
    character_dir = resolve_under(out_dir, name)
    character_dir.mkdir(parents=True, exist_ok=True)
    images: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    for frame_index, frame in enumerate(frames):
        scene.frame_set(frame)
        depsgraph = bpy.context.evaluated_depsgraph_get()
        mesh_vertices = [mesh_world_vertices(obj, depsgraph) for obj in character.meshes]
        all_vertices = np.concatenate(mesh_vertices)
        posed = reader.pose(depsgraph, mesh_vertices)
        for view, distance in zip(views, framing.distances, strict=True):
            if params.framing == "auto":
                matrix = orbit_camera_matrix(framing.target(frame_index), float(distance), view)
            else:
                matrix = seed_camera_matrix(view)
            set_camera_matrix(camera, matrix)
            stem = image_stem(view, frame, len(frames) > 1)
            image_path = character_dir / f"{stem}.png"
            started = time.perf_counter()
            _render_still(scene, image_path)
            render_s = time.perf_counter() - started
            started = time.perf_counter()
            R, t = world_to_camera(matrix)
            occluded = reader.occluded(scene, depsgraph, np.asarray(matrix)[:3, 3], posed)
            vertex_pixels, vertex_depth = project_points(all_vertices, K, R, t)
            label = image_label(
                image=f"{name}/{stem}.png",
                character=name,
                view=view,
                frame=frame,
                width=width,
                height=height,
                K=K,
                R=R,
                t=t,
                matrix_world=matrix,
                landmarks_world=posed.positions,
                occluded=occluded,
                bbox=pixel_bbox(vertex_pixels, vertex_depth, width, height),
                label_sets=params.labels,
            )
            write_json(character_dir / f"{stem}.json", label)
            label_s = time.perf_counter() - started
            if debug_overlays:
                _write_overlay(out_dir, name, stem, image_path, label)
            labels.append(label)
            images.append(
                {
                    "image": label["image"],
                    "label": f"{name}/{stem}.json",
                    "render_s": round(render_s, 4),
                    "label_s": round(label_s, 4),
                }
            )
            counter.step()
    record = {
        "name": name,
        "file": path.name,
        "animation_frames": [character.first_frame, character.last_frame],
        "height_m": round(reader.height_m, 4),
        "frames": frames,
        "frame_selection": {"spec": str(spec), "loop": choice.loop, "pose_distances_m": choice.pose_distances_m},
        "views": [view.name for view in views],
        "bounds_min": [round(float(v), 5) for v in framing.low],
        "bounds_max": [round(float(v), 5) for v in framing.high],
        "camera_distances_m": [round(float(v), 4) for v in framing.distances] if params.framing == "auto" else None,
        "root_offsets_m": [[round(float(v), 4) for v in offset] for offset in framing.offsets],
        "import_s": round(import_s, 4),
        "framing_s": round(framing_s, 4),
    }
    return record, images, labels


def _write_overlay(out_dir: Path, name: str, stem: str, image_path: Path, label: dict[str, Any]) -> None:
    from PIL import Image

    label_set = "coco17" if "coco17" in label["keypoints"] else "mediapipe33"
    target = resolve_under(out_dir, OVERLAY_DIR, name, f"{stem}.png")
    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(image_path) as image:
        draw_skeleton(image, label["keypoints"][label_set], label_set).save(target)


def render_dataset(
    params: RenderParams,
    files: Mapping[str, Path],
    out_dir: Path,
    progress: Progress | None = None,
    *,
    transparent: bool = False,
    debug_overlays: bool = False,
    write_summary: bool = True,
) -> dict[str, Any]:
    """Render and label every character of ``params`` into ``out_dir``; returns the ``dataset.json`` content.

    ``files`` maps each ``CharacterRef.name`` to a local file; ``progress`` receives
    ``(images_done, images_total)`` after each image (the total is an estimate until each
    character's animation length is known). A character that cannot be imported or rendered
    is listed in ``failures`` and the others continue. ``transparent`` renders the background
    with alpha 0; ``debug_overlays`` writes skeleton overlays to ``<out>/overlays/``;
    ``write_summary=False`` (a worker rendering part of a dataset) skips ``dataset.json`` and
    ``coco_keypoints.json``, which :func:`write_dataset_files` then writes for the whole.
    This resets the process's Blender scene (run it in a background Blender or the bpy module).
    """
    wall_started = time.perf_counter()
    preset = render_preset(params.preset)
    out_dir.mkdir(parents=True, exist_ok=True)
    views_per_frame = params.views_per_frame()
    estimate = frame_count_estimate(parse_frame_spec(params.frames)) * views_per_frame
    counter = _Counter({ref.name: estimate for ref in params.characters}, progress)
    summary = new_summary(params, preset, software_versions())
    labels: list[dict[str, Any]] = []
    for ref in params.characters:
        path = files.get(ref.name)
        try:
            if path is None:
                raise RenderError(f"{ref.name}: no local file was given for this character")
            record, images, character_labels = _render_character(
                ref.name, Path(path), params, preset, out_dir, counter, transparent, debug_overlays
            )
        except Exception as error:  # one bad character must not stop the others; it is reported in failures
            counter.settle(ref.name, 0)
            if isinstance(error, RenderError):
                message = str(error)
            elif isinstance(error, ValueError):
                message = f"{ref.name}: {error}"
            else:
                message = f"{ref.name}: {type(error).__name__}: {error}"
            summary["failures"].append({"character": ref.name, "file": Path(path).name if path else None, "error": message})
            continue
        summary["characters"].append(record)
        summary["images"].extend(images)
        labels.extend(character_labels)
    finish_summary(summary, time.perf_counter() - wall_started)
    if write_summary:
        write_dataset_files(out_dir, summary, labels)
    return summary
