"""The render loop: each character imported once, each frame evaluated once, every view rendered from it.

For each frame the posed meshes, landmarks and ray-cast scene come from one evaluated
depsgraph, and the single camera moves through every view; the pixels and the labels of an
image therefore always describe the same pose. Output layout (DESIGN.md section 6)::

    <out>/<character>/<view>.png            one frame selected
    <out>/<character>/<view>_f<frame>.png   several frames (frame zero-padded to 4 digits)
    <out>/<character>/<same stem>.json      labels of that image
    <out>/<character>/<motion>/<stem>.png   with motions (``--motion``): one folder per motion, same stems
    <out>/coco_keypoints.json               COCO keypoints of every image (when coco17 is asked)
    <out>/dataset.json                      spec, versions, preset, timings, failures
"""

from __future__ import annotations

import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpy
import numpy as np

from .. import __version__
from ..core.body_parts import palette_record
from ..core.camera import (
    OrbitView,
    field_of_view,
    fit_distances,
    orbit_camera_matrix,
    orbit_views,
    project_points,
    rolled,
    seed_camera_matrix,
    world_to_camera,
)
from ..core.dataset import ORDER_KEY, drop_order, finish_summary, new_summary, write_dataset_files, write_json
from ..core.drawing import draw_mask_outline, draw_skeleton
from ..core.errors import PoseFactoryError, RenderError
from ..core.frames import frame_count_estimate, parse_frame_spec, select_frames
from ..core.labels import image_label, pixel_bbox
from ..core.manifest import RenderParams
from ..core.masks import mask_bbox, rle_encode
from ..core.motion import Motion, library_motion, mirrored
from ..core.presets import RenderPreset, render_preset
from ..core.randomize import Look, sample_camera, sample_environment, sample_look, scene_record
from ..core.security import resolve_under
from .framing import frame_character
from .importer import Character, import_character
from .keypoints import LandmarkReader
from .meshes import mesh_world_vertices
from .passes import Passes
from .randomize import BackgroundLibrary, SceneDresser, dress
from .retarget import load_bvh_motion, retarget_onto, target_rig
from .scene import (
    add_camera,
    add_lighting,
    camera_intrinsics,
    configure_render,
    reset_scene,
    set_camera_matrix,
    set_focal_length,
)

Progress = Callable[[int, int], None]
_ROLL_MARGIN = 1.06  # room for a 5 degree roll when a jittered camera fits the body
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
        self.report()

    def step(self) -> None:
        self.done += 1
        self.report()

    def report(self) -> None:
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
    motions: list[Motion],
    backgrounds: BackgroundLibrary,
    run: _Run,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Import one character and render its own animation, or each of ``motions`` retargeted onto it.

    Returns the character records (one per animation), image entries, labels, and the failures of
    single motions (a motion that cannot be retargeted or rendered does not stop the others).
    """
    width, height = params.resolution
    scene = reset_scene()
    configure_render(scene, preset, width, height, transparent, params.seed)
    camera = add_camera(scene)
    add_lighting(scene, preset, camera)
    started = time.perf_counter()
    run.phase(f"importing {name}")
    with quiet_output():
        character = import_character(path, name)
    if run.stop.is_set():  # the import cannot be interrupted: stop right after it
        return [], [], [], []
    reader = LandmarkReader(character)
    look = sample_look(params.randomize, params.seed, name)
    if look is not None:
        dress(character, reader.skin, look, keep_skin=reader.landmark_source == "generator")
    extras = _Extras(
        SceneDresser(scene, camera, backgrounds) if params.randomize != "none" else None,
        Passes(scene, params.passes, character.meshes, reader.skin),
        look,
        backgrounds,
        run,
    )
    try:
        return _render_animations(
            name, path, character, reader, scene, camera, params, out_dir, counter, debug_overlays, motions, extras, started
        )
    finally:
        extras.passes.close()


@dataclass(frozen=True)
class _Run:
    """What a whole render shares: the stop request (Ctrl-C), the finished images a resumed render keeps, and
    where to say which step is running (importing, framing, rendering: a long import is not a hung render)."""

    stop: threading.Event
    finished: Mapping[str, dict[str, Any]]
    phase: Callable[[str], None]
    frame_share: tuple[int, int] = (0, 1)  # (i, n): render only the i-th of every n chosen frames (one of n workers)

    def renders(self, frame_index: int) -> bool:
        return frame_index % self.frame_share[1] == self.frame_share[0]


@dataclass
class _Extras:
    """What scene variety, passes and the run need while one character renders."""

    dresser: SceneDresser | None
    passes: Passes
    look: Look | None
    backgrounds: BackgroundLibrary
    run: _Run


def _render_animations(
    name: str,
    path: Path,
    character: Character,
    reader: LandmarkReader,
    scene: bpy.types.Scene,
    camera: bpy.types.Object,
    params: RenderParams,
    out_dir: Path,
    counter: _Counter,
    debug_overlays: bool,
    motions: list[Motion],
    extras: _Extras,
    started: float,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    if not motions:
        setup_s = time.perf_counter() - started
        record, images, labels = _render_animation(
            name, path, character, reader, None, scene, camera, params, out_dir, counter, debug_overlays, setup_s, extras
        )
        return [record], images, labels, []
    rig = target_rig(character)
    records: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for motion in motions:
        if extras.run.stop.is_set():
            break
        try:
            retarget_started = time.perf_counter()
            animated, _ = retarget_onto(character, motion, rig)
            retarget_s = time.perf_counter() - retarget_started
            setup_s = time.perf_counter() - started
            record, motion_images, motion_labels = _render_animation(
                name, path, animated, reader, motion, scene, camera, params, out_dir, counter, debug_overlays, setup_s, extras
            )
        except Exception as error:  # one motion that fails on this rig must not stop the others; it is reported
            counter.settle(_animation_key(name, motion.name), 0)
            failures.append({"character": name, "motion": motion.name, "file": path.name, "error": _failure_message(name, error)})
            continue
        record["retarget_s"] = round(retarget_s, 4)
        records.append(record)
        images.extend(motion_images)
        labels.extend(motion_labels)
        started = time.perf_counter()
    return records, images, labels, failures


def _animation_key(character: str, motion: str | None) -> str:
    """The counter key, and the output folder below ``<out>``, of one character's animation."""
    return character if motion is None else f"{character}/{motion}"


def _with_motion(label: dict[str, Any], motion: str) -> dict[str, Any]:
    """``label`` with ``"motion"`` right after ``"character"``."""
    result: dict[str, Any] = {}
    for key, value in label.items():
        result[key] = value
        if key == "character":
            result["motion"] = motion
    return result


def _render_animation(
    name: str,
    path: Path,
    character: Character,
    reader: LandmarkReader,
    motion: Motion | None,
    scene: bpy.types.Scene,
    camera: bpy.types.Object,
    params: RenderParams,
    out_dir: Path,
    counter: _Counter,
    debug_overlays: bool,
    setup_s: float,
    extras: _Extras,
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Render every chosen frame of the character's current animation from every view.

    ``setup_s`` (seconds spent importing, reading landmarks and retargeting) is recorded as ``import_s``.
    """
    width, height = params.resolution
    started = time.perf_counter()
    key = _animation_key(name, motion.name if motion else None)
    spec = parse_frame_spec(params.frames)
    poses = reader.joint_track(scene, character.first_frame, character.last_frame) if spec.needs_poses else None
    choice = select_frames(spec, character.first_frame, character.last_frame, poses)
    frames = choice.frames
    import_s = setup_s + time.perf_counter() - started
    views = orbit_views(params.angles, params.elevations)
    counter.settle(key, sum(extras.run.renders(index) for index in range(len(frames))) * len(views))
    started = time.perf_counter()
    extras.run.phase(f"framing {key}")
    K = camera_intrinsics(scene, camera)
    framing = frame_character(character, frames, views, *field_of_view(K, width, height))
    framing_s = time.perf_counter() - started
    character_dir = resolve_under(out_dir, *key.split("/"))
    character_dir.mkdir(parents=True, exist_ok=True)
    images: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    default_lens = camera.data.lens, camera.data.sensor_width
    for frame_index, frame in enumerate(frames):
        if extras.run.stop.is_set():
            break
        if not extras.run.renders(frame_index):
            continue  # another worker renders this frame (the framing above covered every frame: same cameras)
        scene.frame_set(frame)
        environment = sample_environment(
            params.randomize,
            params.seed,
            key,
            frame,
            list(extras.backgrounds.hdris),
            list(extras.backgrounds.photos),
            params.ground,
        )
        if extras.dresser is not None and environment is not None:
            extras.dresser.set_environment(environment)
        depsgraph = bpy.context.evaluated_depsgraph_get()
        mesh_vertices = [mesh_world_vertices(obj, depsgraph) for obj in character.meshes]
        all_vertices = np.concatenate(mesh_vertices)
        posed = reader.pose(depsgraph, mesh_vertices)
        for view_index, (view, distance) in enumerate(zip(views, framing.distances, strict=True)):
            if extras.run.stop.is_set():
                break
            stem = image_stem(view, frame, len(frames) > 1)
            kept = extras.run.finished.get(f"{key}/{stem}.png")
            if kept is not None:  # a resumed render keeps what the interrupted one finished
                labels.append(kept["label"])
                images.append(_image_entry(kept["label"], f"{key}/{stem}.json", kept["timings"], (frame_index, view_index)))
                counter.step()
                continue
            jitter = sample_camera(params.randomize, params.seed, key, frame, view_index, params.angles)
            aim = framing.target(frame_index)
            if params.framing == "fixed":
                matrix = seed_camera_matrix(view)
            elif jitter is None:
                matrix = orbit_camera_matrix(aim, float(distance), view)
            else:
                set_focal_length(camera, jitter.focal_mm)
                K = camera_intrinsics(scene, camera)
                moved = OrbitView(
                    view.name,
                    view.azimuth_deg + jitter.azimuth_deg,
                    float(np.clip(view.elevation_deg + jitter.elevation_deg, -80.0, 80.0)),
                )
                fov_x, fov_y = field_of_view(K, width, height)
                padding = _ROLL_MARGIN / jitter.fill
                reach = float(fit_distances(all_vertices, aim, [moved], fov_x, fov_y, padding)[0])
                matrix = rolled(orbit_camera_matrix(aim, reach, moved), jitter.roll_deg)
            if extras.dresser is not None:
                extras.dresser.place_backdrop(matrix, aim, max(field_of_view(K, width, height)))
            set_camera_matrix(camera, matrix)
            image_path = character_dir / f"{stem}.png"
            started = time.perf_counter()
            extras.run.phase(f"rendering {key}/{stem}")
            _render_still(scene, image_path)
            render_s = time.perf_counter() - started
            started = time.perf_counter()
            written = extras.passes.collect(frame, character_dir, stem)
            R, t = world_to_camera(matrix)
            occluded = reader.occluded(scene, depsgraph, np.asarray(matrix)[:3, 3], posed)
            vertex_pixels, vertex_depth = project_points(all_vertices, K, R, t)
            label = image_label(
                image=f"{key}/{stem}.png",
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
            if motion is not None:
                label = _with_motion(label, motion.name)
            if params.randomize != "none":
                label["scene"] = scene_record(params.randomize, environment, extras.look, jitter)
            if written:
                label["passes"] = {name: f"{key}/{file}" for name, file in written.items()}
            if "mask" in written:
                label.update(_mask_fields(character_dir / written["mask"]))
            write_json(character_dir / f"{stem}.json", label)
            label_s = time.perf_counter() - started
            if debug_overlays:
                _write_overlay(out_dir, key, stem, image_path, label)
            labels.append(label)
            timings = {"render_s": render_s, "label_s": label_s}
            images.append(_image_entry(label, f"{key}/{stem}.json", timings, (frame_index, view_index)))
            counter.step()
    camera.data.lens, camera.data.sensor_width = default_lens
    record = {
        "name": name,
        **({"motion": motion.name, "motion_source": motion.source} if motion is not None else {}),
        "file": path.name,
        "animation_frames": [character.first_frame, character.last_frame],
        "height_m": round(reader.height_m, 4),
        "landmark_source": reader.landmark_source,
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


def _image_entry(label: dict[str, Any], label_path: str, timings: Mapping[str, Any], place: tuple[int, int]) -> dict[str, Any]:
    """An image's entry in ``dataset.json``: its files and seconds spent (those of the first run for a kept image).

    ``place`` (frame index, view index) orders the images of workers that rendered shares of one
    animation's frames (:func:`~..core.dataset.merge_summaries` removes it).
    """
    return {
        "image": label["image"],
        "label": label_path,
        "render_s": round(float(timings.get("render_s", 0.0)), 4),
        "label_s": round(float(timings.get("label_s", 0.0)), 4),
        ORDER_KEY: list(place),
    }


def _mask_fields(path: Path) -> dict[str, Any]:
    """The person mask as COCO wants it (``segmentation`` RLE, ``mask_area`` in pixels) and its box."""
    from PIL import Image

    with Image.open(path) as image:
        mask = np.asarray(image) > 0
    return {"segmentation": rle_encode(mask), "mask_area": int(mask.sum()), "mask_bbox": mask_bbox(mask)}


def _write_overlay(out_dir: Path, folder: str, stem: str, image_path: Path, label: dict[str, Any]) -> None:
    from PIL import Image

    label_set = "coco17" if "coco17" in label["keypoints"] else "mediapipe33"
    target = resolve_under(out_dir, OVERLAY_DIR, *folder.split("/"), f"{stem}.png")
    target.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(image_path) as image:
        drawn = draw_skeleton(image, label["keypoints"][label_set], label_set)
    mask = label.get("passes", {}).get("mask")
    if mask:
        with Image.open(resolve_under(out_dir, mask)) as mask_image:
            drawn = draw_mask_outline(drawn, mask_image)
    drawn.save(target)


def render_dataset(
    params: RenderParams,
    files: Mapping[str, Path],
    out_dir: Path,
    progress: Progress | None = None,
    *,
    motion_files: Mapping[str, Path] | None = None,
    backgrounds: Path | None = None,
    transparent: bool = False,
    debug_overlays: bool = False,
    write_summary: bool = True,
    stop: threading.Event | None = None,
    finished: Mapping[str, dict[str, Any]] | None = None,
    on_phase: Callable[[str], None] | None = None,
    frame_share: tuple[int, int] = (0, 1),
) -> dict[str, Any]:
    """Render and label every character of ``params`` into ``out_dir``; returns the ``dataset.json`` content.

    ``files`` maps each ``CharacterRef.name`` to a local file; ``progress`` receives
    ``(images_done, images_total)`` after each image (the total is an estimate until each
    character's animation length is known). With ``params.motions`` every character is rendered in
    each motion instead of its own animation; ``motion_files`` maps each BVH motion's name to its
    local file. ``backgrounds`` is a folder of the user's HDRIs and photos for ``params.randomize``
    (besides Blender's bundled world images). A character, motion or character-motion pair that cannot
    be imported, retargeted or rendered is listed in ``failures`` and the others continue. ``transparent`` renders the background
    with alpha 0; ``debug_overlays`` writes skeleton overlays to ``<out>/overlays/``;
    ``write_summary=False`` (a worker rendering part of a dataset) skips ``dataset.json`` and
    ``coco_keypoints.json``, which :func:`write_dataset_files` then writes for the whole.
    ``stop`` (set by Ctrl-C) ends the render after the image in progress: the summary then lists the
    finished images and says ``"interrupted": true``. ``finished`` are the images a resumed render keeps
    (:func:`~..core.dataset_folder.prepare_output`): they are listed, not rendered again. ``on_phase``
    hears which step starts (``importing <name>``, ``framing <key>``, ``rendering <image>``).
    ``frame_share`` ``(i, n)`` renders only every n-th chosen frame from the i-th (one of n workers
    sharing a long clip); the framing still covers every frame, so the cameras are the same.
    This resets the process's Blender scene (run it in a background Blender or the bpy module).
    """
    wall_started = time.perf_counter()
    preset = render_preset(params.preset)
    out_dir.mkdir(parents=True, exist_ok=True)
    views_per_frame = params.views_per_frame()
    estimate = frame_count_estimate(parse_frame_spec(params.frames)) * views_per_frame
    summary = new_summary(params, preset, software_versions())
    motions = _load_motions(params, motion_files or {}, summary["failures"])
    library = BackgroundLibrary.find(backgrounds) if params.randomize != "none" else BackgroundLibrary({}, {})
    if params.passes and "parts" in params.passes:
        summary["parts"] = palette_record()
    # When every motion failed to load there is nothing to render; the failures say why.
    characters = params.characters if motions or not params.motions else ()
    keys = {ref.name: [_animation_key(ref.name, motion.name) for motion in motions] or [ref.name] for ref in characters}
    counter = _Counter({key: estimate for names in keys.values() for key in names}, progress)
    counter.report()
    labels: list[dict[str, Any]] = []
    run = _Run(stop or threading.Event(), finished or {}, on_phase or _no_phase, frame_share)
    for ref in characters:
        if run.stop.is_set():
            break
        path = files.get(ref.name)
        try:
            if path is None:
                raise RenderError(f"{ref.name}: no local file was given for this character")
            records, images, character_labels, motion_failures = _render_character(
                ref.name, Path(path), params, preset, out_dir, counter, transparent, debug_overlays, motions, library, run
            )
        except Exception as error:  # one bad character must not stop the others; it is reported in failures
            for key in keys[ref.name]:
                counter.settle(key, 0)
            message = _failure_message(ref.name, error)
            summary["failures"].append({"character": ref.name, "file": Path(path).name if path else None, "error": message})
            continue
        summary["characters"].extend(records)
        summary["images"].extend(images)
        summary["failures"].extend(motion_failures)
        labels.extend(character_labels)
    if run.stop.is_set():
        summary["interrupted"] = True
    if write_summary:
        drop_order(summary)
    finish_summary(summary, time.perf_counter() - wall_started)
    if write_summary:
        write_dataset_files(out_dir, summary, labels)
    return summary


def _no_phase(_text: str) -> None:
    """Nobody listens to the phases."""


def _failure_message(name: str, error: Exception) -> str:
    """One line for ``failures``: domain errors as they are, others with the character and error type."""
    if isinstance(error, RenderError):
        return str(error)
    if isinstance(error, ValueError):
        return f"{name}: {error}"
    return f"{name}: {type(error).__name__}: {error}"


def _load_motions(params: RenderParams, motion_files: Mapping[str, Path], failures: list[dict[str, Any]]) -> list[Motion]:
    """The motions of ``params`` (library clips and BVH files), each followed by its mirror image when
    ``params.mirror``; a motion that cannot be read is listed in ``failures`` and left out."""
    motions: list[Motion] = []
    for ref in params.motions:
        try:
            if ref.is_library:
                motion = library_motion(ref.name)
            else:
                path = motion_files.get(ref.name)
                if path is None:
                    raise RenderError(f"motion {ref.name}: no local file was given for it")
                with quiet_output():
                    motion = load_bvh_motion(Path(path), ref.name)
        except Exception as error:  # a bad motion file must not stop the others; it is reported in failures
            failures.append({"motion": ref.name, "error": str(error) if isinstance(error, PoseFactoryError) else repr(error)})
            continue
        motions.append(motion)
        if params.mirror:
            motions.append(mirrored(motion))
    return motions
