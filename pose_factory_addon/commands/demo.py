"""``pose-factory demo --out DIR``: render the committed sample characters and draw a contact sheet.

Nothing to download: the sample mannequins in ``samples/characters/`` (procedural, Mixamo
bone names) are rendered with the ``standard`` preset from 8 angles at 3 frames each, then
``<out>/contact_sheet.png`` shows every image with its skeleton.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..core.character_files import character_files
from ..core.characters import character_spec
from ..core.contact_sheets import write_contact_sheet
from ..core.errors import CharacterError, UsageError
from ..core.generation import find_characters_python
from ..core.interrupt import INTERRUPTED_EXIT
from ..core.output_paths import writable_folder
from .render import render_locally
from .render_options import render_params_from_args

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "samples" / "characters"
DEMO_OPTIONS = {
    "angles": 8,
    "elevations": "0",
    "frames": "count:3",
    "preset": "standard",
    "resolution": "512x512",
    "labels": "mediapipe33,coco17",
    "framing": "auto",
    "seed": 0,
}
CONTACT_SHEET = "contact_sheet.png"
PEOPLE_DIR = "people"
# Generated beside the samples, so the first command already shows people of another sex, age and build.
DEMO_PEOPLE = (
    {"gender": "female", "age": 29, "body_type": "athletic", "ethnicity": "african", "seed": 1},
    {"gender": "male", "age": 67, "body_type": "heavy", "ethnicity": "caucasian", "seed": 2},
)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="render the bundled sample characters and write a contact sheet",
        description="Render the bundled sample mannequins (and two generated people when `make characters-setup` was run) "
        "from 8 angles at 3 frames each, then draw OUT/contact_sheet.png.",
    )
    parser.add_argument("--out", type=Path, default=Path("out/demo"), metavar="DIR", help="output folder (default %(default)s)")
    parser.add_argument(
        "--samples", type=Path, default=SAMPLES_DIR, metavar="DIR", help="character folder (default: the bundled samples)"
    )
    parser.add_argument("--workers", type=int, default=2, metavar="N", help="parallel Blender processes (default %(default)s)")
    parser.set_defaults(func=run_demo)


def _generate_people(out: Path) -> list[Path]:
    """The demo's generated people (GLB) in ``out``, or none, with a note, when the characters venv is missing."""
    try:
        find_characters_python()
    except CharacterError as error:
        print(f"pose-factory demo: no generated people in this demo: {error}", file=sys.stderr)
        return []
    from ..render.characters import generate_characters

    print(f"demo: generating {len(DEMO_PEOPLE)} people with the Anny body model into {out}", file=sys.stderr)
    records, errors = generate_characters([character_spec(**person) for person in DEMO_PEOPLE], out, formats=("glb",))
    for error in errors:
        print(f"pose-factory demo: {error}", file=sys.stderr)
    return [out / f"{record['name']}.glb" for record in records]


def run_demo(args: argparse.Namespace) -> int:
    if not args.samples.is_dir():
        raise UsageError(f"{args.samples}: sample characters not found (run from a source checkout or pass --samples)")
    writable_folder(args.out, "--out")
    people = _generate_people(args.out / PEOPLE_DIR)
    files = character_files([args.samples, *people])
    params = render_params_from_args(SimpleNamespace(**DEMO_OPTIONS), files, output_name="demo")
    summary = render_locally(params, files, args.out, workers=args.workers, mode="overwrite")
    if summary.get("interrupted"):
        print(f"pose-factory demo: interrupted after {summary['counts']['images']} images", file=sys.stderr)
        return INTERRUPTED_EXIT
    sheet = args.out / CONTACT_SHEET
    count = write_contact_sheet(args.out, sheet, max_images=summary["counts"]["images"], tile=160)
    timings = summary["timings"]
    print(
        f"demo: {summary['counts']['images']} labeled images in {args.out} ({timings['wall_s']:.0f} s); "
        f"contact sheet of {count} images: {sheet}",
        file=sys.stderr,
    )
    for failure in summary["failures"]:
        print(f"pose-factory demo: {failure['error']}", file=sys.stderr)
    return 1 if summary["failures"] else 0
