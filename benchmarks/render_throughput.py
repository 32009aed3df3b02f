"""Seconds per labeled image for each render preset, the cost of scene variety and passes, and a seed-style baseline.

Runs in one process with the bpy module (Blender already up, as in a worker): every preset
renders the sample characters through the real pipeline (import, framing, render, labels) at
512x512 from 8 views over several frames; then the ``standard`` preset again with
``--randomize full`` and the depth, mask and parts passes (the overhead a realistic dataset
costs); the baseline re-creates the seed's renderer (EEVEE 64 TAA samples, one SUN, the fixed
camera, a new camera object per view, no labels) on the same machine in the same run. Prints
a table; nothing is written outside a temp folder. The standard preset is also measured with the
settings it had before this round's speed work, side by side, with each one's PSNR against a
256-sample reference of the same images (speed is only worth what the images keep).

    python benchmarks/render_throughput.py [--presets preview,standard] [--frames count:2] [--variety full]
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bpy
import numpy as np
from mathutils import Matrix
from PIL import Image

from pose_factory_addon.core.camera import orbit_views, seed_camera_matrix
from pose_factory_addon.core.manifest import CharacterRef, RenderParams
from pose_factory_addon.core.presets import render_preset
from pose_factory_addon.render import pipeline
from pose_factory_addon.render.pipeline import quiet_output, render_dataset
from pose_factory_addon.render.scene import add_lighting, configure_render, reset_scene

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "characters"
DEFAULT_CHARACTERS = ("Mannequin_Average_Walk.fbx", "Mannequin_Slim_Wave.glb")


def _ref(path: Path) -> CharacterRef:
    return CharacterRef(path.stem, hashlib.sha256(path.read_bytes()).hexdigest(), path.suffix[1:])


def measure_preset(
    preset: str,
    files: list[Path],
    frames: str,
    angles: int,
    size: int,
    out: Path,
    randomize: str = "none",
    passes: tuple[str, ...] = (),
) -> dict[str, float]:
    """Wall seconds per labeled image through the pipeline, and the import/framing/render/label split (s per image)."""
    params = RenderParams(
        characters=tuple(_ref(path) for path in files),
        angles=angles,
        frames=frames,
        preset=preset,
        resolution=(size, size),
        randomize=randomize,
        passes=passes,
    )
    started = time.perf_counter()
    folder = out / f"{preset}_{randomize}_{len(passes)}"
    summary = render_dataset(params, {path.stem: path for path in files}, folder)
    wall = time.perf_counter() - started
    images = summary["counts"]["images"]
    timings = summary["timings"]
    if summary["failures"]:
        raise SystemExit(f"{preset}: {summary['failures']}")
    return {
        "images": images,
        "per_image_s": wall / images,
        "import_s": (timings["import_s"] + timings["framing_s"]) / images,
        "render_s": timings["render_s"] / images,
        "label_s": timings["label_s"] / images,
        "folder": folder,
    }


# The standard preset's Cycles settings before this round's speed work, for the side-by-side comparison.
BEFORE_ROUND = {"use_light_tree": True}
# The quality reference for PSNR: many samples and full denoising, same views.
REFERENCE = {"samples": 256, "denoising_quality": "HIGH", "denoising_prefilter": "ACCURATE"}


@contextmanager
def cycles_settings(overrides: dict[str, object]) -> Iterator[None]:
    """Render with these Cycles settings on top of the preset's (the benchmark's "before" and reference runs)."""
    original = pipeline.configure_render

    def configure(scene: bpy.types.Scene, *args: object, **kwargs: object) -> None:
        original(scene, *args, **kwargs)
        for name, value in overrides.items():
            setattr(scene.cycles, name, value)

    pipeline.configure_render = configure
    try:
        yield
    finally:
        pipeline.configure_render = original


def psnr(first: Path, second: Path) -> float:
    """Mean PSNR (dB) between the same-named PNGs of two dataset folders."""
    values = []
    for image in sorted(first.rglob("*.png")):
        a = np.asarray(Image.open(image).convert("RGB"), dtype=np.float64)
        b = np.asarray(Image.open(second / image.relative_to(first)).convert("RGB"), dtype=np.float64)
        mse = float(np.mean((a - b) ** 2))
        values.append(99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse))
    return float(np.mean(values))


def compare_before_after(args: argparse.Namespace, files: list[Path], out: Path) -> dict[str, dict[str, float]]:
    """The standard preset with this round's settings against the settings before it, interleaved rounds (the
    fastest counts), each with its PSNR against a 256-sample reference of the same images."""
    best: dict[str, dict[str, float]] = {}
    for round_index in range(max(args.repeat, 1)):
        for name, overrides in (("standard (before)", BEFORE_ROUND), ("standard (now)", {})):
            with cycles_settings(overrides):
                row = measure_preset("standard", files, args.frames, args.angles, args.size, out / f"{round_index}{name[10:13]}")
            if name not in best or row["per_image_s"] < best[name]["per_image_s"]:
                best[name] = row
            print(f"measured {name} (round {round_index + 1})", file=sys.stderr, flush=True)
    with cycles_settings(REFERENCE):
        reference = measure_preset("standard", files, args.frames, args.angles, args.size, out / "reference")
    for row in best.values():
        row["psnr_db"] = psnr(Path(row["folder"]), Path(reference["folder"]))
    return best


def measure_seed_baseline(path: Path, views: int, size: int, out: Path) -> dict[str, float]:
    """The seed's renderer: EEVEE 64 TAA, one SUN, fixed camera, a new camera per view, no labels; s per image."""
    started = time.perf_counter()
    scene = reset_scene()
    preset = render_preset("seed")
    configure_render(scene, preset, size, size)
    with quiet_output():
        bpy.ops.import_scene.fbx(filepath=str(path)) if path.suffix == ".fbx" else bpy.ops.import_scene.gltf(filepath=str(path))
    import_s = time.perf_counter() - started
    render_s = 0.0
    for index, view in enumerate(orbit_views(8)[:views]):
        camera_data = bpy.data.cameras.new(f"Camera_{index}")
        camera = bpy.data.objects.new(f"Camera_{index}", camera_data)
        scene.collection.objects.link(camera)
        camera.matrix_world = Matrix(seed_camera_matrix(view).tolist())
        scene.camera = camera
        if index == 0:
            add_lighting(scene, preset, camera)
        scene.render.filepath = str(out / "seed_baseline" / f"{view.name}.png")
        started = time.perf_counter()
        with quiet_output():
            bpy.ops.render.render(write_still=True)
        render_s += time.perf_counter() - started
        bpy.data.objects.remove(camera)
    return {
        "images": views,
        "per_image_s": (import_s + render_s) / views,
        "import_s": import_s / views,
        "render_s": render_s / views,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="preview,standard,quality", help="presets to measure (default %(default)s)")
    parser.add_argument("--frames", default="count:2", help="frames per character (default %(default)s)")
    parser.add_argument("--angles", type=int, default=8)
    parser.add_argument("--size", type=int, default=512, help="square resolution in pixels (default %(default)s)")
    parser.add_argument("--characters", default=",".join(DEFAULT_CHARACTERS), help="sample file names")
    parser.add_argument("--baseline-views", type=int, default=8, help="views rendered by the seed-style baseline (0 = skip)")
    parser.add_argument("--variety", default="full", help="scene variety measured with the standard preset ('' = skip)")
    parser.add_argument(
        "--passes", default="depth,mask;depth,mask,parts", help="pass sets measured with --variety, ';' between sets"
    )
    parser.add_argument(
        "--no-before-after",
        dest="before_after",
        action="store_false",
        help="skip the standard preset with the settings before this round's speed work (and its PSNR)",
    )
    parser.add_argument(
        "--repeat", type=int, default=2, help="rounds of the variety comparison, interleaved; the fastest round counts"
    )
    args = parser.parse_args()
    files = [SAMPLES / name for name in args.characters.split(",")]
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as temp:
        out = Path(temp)
        for preset in [name for name in args.presets.split(",") if name]:
            results[preset] = measure_preset(preset, files, args.frames, args.angles, args.size, out)
            print(f"measured {preset}", file=sys.stderr, flush=True)
        results.update(_compare_variety(args, files, out))
        if args.before_after:
            results.update(compare_before_after(args, files, out))
        if args.baseline_views:
            results["seed baseline"] = measure_seed_baseline(files[0], args.baseline_views, args.size, out)
    print(f"{'preset':<32} {'images':>6} {'s/image':>8} {'import+framing':>14} {'render':>8} {'labels':>8} {'vs seed':>8}")
    baseline = results.get("seed baseline", {}).get("per_image_s")
    for name, row in results.items():
        ratio = f"{baseline / row['per_image_s']:.1f}x" if baseline else "-"
        print(
            f"{name:<32} {int(row['images']):>6} {row['per_image_s']:>8.3f} {row['import_s']:>14.3f} "
            f"{row['render_s']:>8.3f} {row.get('label_s', 0.0):>8.3f} {ratio:>8}"
        )
    if "standard (now)" in results:
        before, now = results["standard (before)"], results["standard (now)"]
        print(
            f"standard preset: {before['per_image_s'] / now['per_image_s']:.2f}x faster per labeled image than before this "
            f"round; PSNR against a 256-sample reference {now['psnr_db']:.1f} dB now, {before['psnr_db']:.1f} dB before"
        )
    for name in [name for name in results if name.startswith("standard+")]:
        overhead = results[name]["per_image_s"] / results[_PLAIN]["per_image_s"] - 1
        print(f"{name} costs {overhead:+.0%} per image over {_PLAIN}")
    return 0


_PLAIN = "standard (variety run)"


def _compare_variety(args: argparse.Namespace, files: list[Path], out: Path) -> dict[str, dict[str, float]]:
    """The standard preset without and with ``--variety`` and each pass set, measured in interleaved rounds
    (the fastest round of each counts), so a slow moment of a shared machine does not land on one side."""
    if not args.variety:
        return {}
    configs = {_PLAIN: ("none", ())}
    for pass_set in args.passes.split(";"):
        passes = tuple(name for name in pass_set.split(",") if name)
        configs[f"standard+{args.variety}" + (f"+{'+'.join(passes)}" if passes else "")] = (args.variety, passes)
    best: dict[str, dict[str, float]] = {}
    for round_index in range(max(args.repeat, 1)):
        for name, (level, passes) in configs.items():
            row = measure_preset("standard", files, args.frames, args.angles, args.size, out / str(round_index), level, passes)
            if name not in best or row["per_image_s"] < best[name]["per_image_s"]:
                best[name] = row
            print(f"measured {name} (round {round_index + 1})", file=sys.stderr, flush=True)
    return best


if __name__ == "__main__":
    sys.exit(main())
