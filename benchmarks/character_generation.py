"""How long one generated person takes once Anny's cache is warm: the body (Anny worker), then rigging and export (Blender).

Run with ``.venv/bin/python benchmarks/character_generation.py [COUNT]`` after ``make characters-setup``.
Prints the worker's model load (paid once per run), the Anny time per body (shape plus height
solve), and Blender's build + GLB + FBX export per person, all measured in one run.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import bpy

from pose_factory_addon.core.characters import character_spec
from pose_factory_addon.core.generation import generate_bodies
from pose_factory_addon.render.characters import write_character


def main(count: int = 8) -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    genders, bodies_types = ("male", "female"), ("slim", "average", "athletic", "heavy", "muscular")
    specs = [
        character_spec(gender=genders[index % 2], age=8 + 9 * index, body_type=bodies_types[index % 5], seed=index)
        for index in range(count)
    ]
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        started = time.perf_counter()
        run = generate_bodies(specs, out / "bodies")
        generation_s = time.perf_counter() - started
        per_body = sum(body.seconds for body in run.bodies) / count
        timings = {"glb": 0.0, "fbx": 0.0}
        for body in run.bodies:
            for extension in timings:
                started = time.perf_counter()
                write_character(body, out, (extension,))
                timings[extension] += time.perf_counter() - started
    print(f"people: {count}; Anny {run.anny_version}, model load {run.load_s:.2f} s, worker run {generation_s:.2f} s")
    print(f"per person: body {per_body:.3f} s (shape + height solve), Blender build + GLB {timings['glb'] / count:.3f} s, "
          f"build + FBX {timings['fbx'] / count:.3f} s")  # fmt: skip
    print(f"per person, body + GLB: {per_body + timings['glb'] / count:.3f} s (target <= 1 s once the cache is warm)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 8)
