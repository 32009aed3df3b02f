"""The render options shared by ``pose-factory render`` (local) and ``pose-factory submit`` (queued).

One definition, so a job renders the same whether it runs here or on a pod: ``--angles
--elevations --frames --preset --resolution --labels --framing --seed --motion --mirror
--randomize --ground --passes``, parsed into :class:`~..core.render_params.RenderChoices`.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from ..core import defaults
from ..core.errors import ManifestError, UsageError
from ..core.frames import FRAME_SPEC_HELP
from ..core.manifest import FRAMINGS, MOTION_EXTENSIONS, PASSES, PRESETS, RenderParams
from ..core.motion import library_names
from ..core.randomize import LEVELS as RANDOMIZE_LEVELS
from ..core.render_params import RenderChoices, build_render_params, parse_elevations
from ..core.security import safe_slug
from ..core.skeletons import KEYPOINT_SETS


def add_render_options(parser: argparse.ArgumentParser) -> None:
    """Add the options that become :class:`RenderParams` fields."""
    group = parser.add_argument_group("render options")
    group.add_argument(
        "--angles",
        type=int,
        default=defaults.ANGLES,
        metavar="N",
        help=f"orbit views per elevation, {defaults.MIN_ANGLES}-{defaults.MAX_ANGLES} (default %(default)s)",
    )
    group.add_argument(
        "--elevations",
        default=",".join(f"{value:g}" for value in defaults.ELEVATIONS_DEG),
        metavar="DEG,...",
        help=f"camera elevations in degrees, {defaults.MIN_ELEVATION_DEG:g} to {defaults.MAX_ELEVATION_DEG:g}, "
        f"at most {defaults.MAX_ELEVATIONS} (default 0 = level at chest height)",
    )
    group.add_argument(
        "--frames",
        default=defaults.FRAMES,
        metavar="SPEC",
        help=f"{FRAME_SPEC_HELP}; at most {defaults.MAX_FRAMES_PER_CHARACTER} frames (default %(default)s)",
    )
    group.add_argument("--preset", choices=PRESETS, default=defaults.PRESET, help="render quality (default %(default)s)")
    group.add_argument(
        "--resolution",
        default="x".join(str(value) for value in defaults.RESOLUTION),
        metavar="WxH",
        help=f"image size in pixels, each side {defaults.MIN_RESOLUTION}-{defaults.MAX_RESOLUTION} (default %(default)s)",
    )
    group.add_argument(
        "--labels",
        default=",".join(defaults.LABEL_SETS),
        metavar="SET,...",
        help=f"keypoint sets, one or more of {', '.join(KEYPOINT_SETS)} (default %(default)s)",
    )
    group.add_argument(
        "--framing",
        choices=FRAMINGS,
        default=defaults.FRAMING,
        help="auto = fit the whole body over every frame; fixed = the seed's camera (default %(default)s)",
    )
    group.add_argument(
        "--seed", type=int, default=defaults.RANDOM_SEED, metavar="S", help="seed for any randomness (default %(default)s)"
    )
    group.add_argument(
        "--motion",
        "--motions",
        dest="motion",
        metavar="NAME,...|FILE.bvh|all",
        help="retarget motions onto every character instead of its own animation: library clips "
        "(see `pose-factory motions list`), BVH files, or all library clips",
    )
    group.add_argument("--mirror", action="store_true", help="also render every motion mirrored (left and right swapped)")
    group.add_argument(
        "--randomize",
        choices=RANDOMIZE_LEVELS,
        default="none",
        help="scene variety: none (the studio look), light (backgrounds, lights, camera), full (also clothing, skin, "
        "photo backdrops); seeded by --seed; the preview preset (Workbench) varies only the camera (default %(default)s)",
    )
    group.add_argument(
        "--ground",
        action="store_true",
        help="with --randomize: a shadow-catching floor under the character (Cycles; about triples render time)",
    )
    group.add_argument(
        "--passes",
        default="",
        metavar="PASS,...",
        help=f"extra outputs per image: {', '.join(PASSES)} (parts needs Cycles: the standard or quality preset; default none)",
    )


def _resolution(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
        raise UsageError(f"--resolution {text!r}: expected WIDTHxHEIGHT in pixels, for example 512x512")
    return int(parts[0]), int(parts[1])


def _elevations(text: str) -> tuple[float, ...]:
    try:
        return parse_elevations(text)
    except ValueError as error:
        raise UsageError(f"--{error}" if str(error).startswith("elevations") else f"--elevations: {error}") from None


def motion_files(spec: str | None) -> dict[str, Path | None]:
    """The motions ``--motion`` names, in order: ``{name: None}`` for a library clip, ``{name: path}`` for a
    BVH file (named by its safe file stem). ``all`` is every library clip.

    Raises:
        UsageError: a BVH file is missing or two motions would get the same name.
    """
    found: dict[str, Path | None] = {}
    for part in (part.strip() for part in (spec or "").split(",")):
        if not part:
            continue
        if part == "all":
            entries: list[tuple[str, Path | None]] = [(name, None) for name in library_names()]
        elif Path(part).suffix.lower().lstrip(".") in MOTION_EXTENSIONS:
            path = Path(part).expanduser()
            if not path.is_file():
                raise UsageError(f"--motion {part}: no such file")
            try:
                entries = [(safe_slug(path.stem), path)]
            except ValueError as error:
                raise UsageError(f"--motion {part}: {error}") from None
        else:
            entries = [(part, None)]
        for name, path in entries:
            if name in found and found[name] != path:
                raise UsageError(f"--motion: two motions would be named {name!r}; rename the file")
            found[name] = path
    return found


def render_choices(args: argparse.Namespace) -> RenderChoices:
    """The parsed render options as :class:`RenderChoices` (the characters come separately)."""
    return RenderChoices(
        angles=args.angles,
        elevations=_elevations(args.elevations),
        frames=args.frames,
        preset=args.preset,
        resolution=_resolution(args.resolution),
        labels=[label.strip() for label in args.labels.split(",") if label.strip()],
        framing=args.framing,
        seed=args.seed,
        motions=motion_files(getattr(args, "motion", None)),
        mirror=bool(getattr(args, "mirror", False)),
        randomize=getattr(args, "randomize", "none"),
        passes=[item.strip() for item in str(getattr(args, "passes", "") or "").split(",") if item.strip()],
        ground=bool(getattr(args, "ground", False)),
    )


def render_params_from_args(
    args: argparse.Namespace, files: Mapping[str, Path], output_name: str = defaults.OUTPUT_NAME
) -> RenderParams:
    """Validated :class:`RenderParams` for the parsed options and ``{name: file}`` characters.

    Raises:
        UsageError: an option is malformed or outside the manifest bounds.
    """
    try:
        return build_render_params(files, render_choices(args), output_name)
    except ManifestError as error:
        raise UsageError(str(error).replace("params.", "--", 1)) from None
