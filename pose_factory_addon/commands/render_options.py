"""The render options shared by ``pose-factory render`` (local) and ``pose-factory submit`` (queued).

One definition, so a job renders the same whether it runs here or on a pod:
``--angles --elevations --frames --preset --resolution --labels --framing --seed --motion --mirror``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..core import defaults
from ..core.errors import ManifestError, UsageError
from ..core.frames import FRAME_SPEC_HELP
from ..core.manifest import (
    FRAMINGS,
    MOTION_EXTENSIONS,
    PASSES,
    PRESETS,
    RenderParams,
    manifest_from_dict,
    new_job_id,
)
from ..core.motion import library_names
from ..core.queue import character_ref_for, motion_ref_for
from ..core.randomize import LEVELS as RANDOMIZE_LEVELS
from ..core.security import safe_slug
from ..core.skeletons import KEYPOINT_SETS


def add_render_options(parser: argparse.ArgumentParser) -> None:
    """Add the options that become :class:`RenderParams` fields."""
    group = parser.add_argument_group("render options")
    group.add_argument(
        "--angles", type=int, default=defaults.ANGLES, help=f"orbit views per elevation (default {defaults.ANGLES})"
    )
    group.add_argument(
        "--elevations",
        default=",".join(f"{value:g}" for value in defaults.ELEVATIONS_DEG),
        metavar="DEG,...",
        help="camera elevations in degrees (default 0 = level at chest height)",
    )
    group.add_argument("--frames", default=defaults.FRAMES, metavar="SPEC", help=f"{FRAME_SPEC_HELP} (default %(default)s)")
    group.add_argument("--preset", choices=PRESETS, default=defaults.PRESET, help="render quality (default %(default)s)")
    group.add_argument(
        "--resolution",
        default="x".join(str(value) for value in defaults.RESOLUTION),
        metavar="WxH",
        help="pixels (default %(default)s)",
    )
    group.add_argument(
        "--labels", default=",".join(defaults.LABEL_SETS), metavar="SET,...", help=f"keypoint sets: {', '.join(KEYPOINT_SETS)}"
    )
    group.add_argument(
        "--framing", choices=FRAMINGS, default=defaults.FRAMING, help="auto = fit every frame; fixed = seed camera"
    )
    group.add_argument("--seed", type=int, default=defaults.RANDOM_SEED, help="seed for any randomness (default %(default)s)")
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


def _resolution(text: str) -> list[int]:
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
        raise UsageError(f"--resolution {text!r}: expected WIDTHxHEIGHT in pixels, for example 512x512")
    return [int(part) for part in parts]


def _elevations(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UsageError(f"--elevations {text!r}: expected degrees separated by commas, for example 0,30") from None


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


def _motion_entries(spec: str | None) -> list[str | dict[str, str]]:
    """``--motion`` as manifest entries: library names, and BVH files referenced by content hash."""
    entries: list[str | dict[str, str]] = []
    for name, path in motion_files(spec).items():
        if path is None:
            entries.append(name)
        else:
            ref = motion_ref_for(path)
            entries.append({"name": name, "sha256": ref.sha256, "ext": ref.ext})
    return entries


def render_options_dict(args: argparse.Namespace, output_name: str = "dataset") -> dict[str, Any]:
    """The parsed render options as manifest params without characters (validated by the manifest)."""
    return {
        "angles": args.angles,
        "elevations": _elevations(args.elevations),
        "frames": args.frames,
        "preset": args.preset,
        "resolution": _resolution(args.resolution),
        "labels": [label.strip() for label in args.labels.split(",") if label.strip()],
        "framing": args.framing,
        "seed": args.seed,
        "output_name": output_name,
        "motions": _motion_entries(getattr(args, "motion", None)),
        "mirror": bool(getattr(args, "mirror", False)),
        "randomize": getattr(args, "randomize", "none"),
        "passes": [item.strip() for item in str(getattr(args, "passes", "") or "").split(",") if item.strip()],
        "ground": bool(getattr(args, "ground", False)),
    }


def render_params_from_args(args: argparse.Namespace, files: Mapping[str, Path], output_name: str = "dataset") -> RenderParams:
    """Validated :class:`RenderParams` for the parsed options and ``{name: file}`` characters.

    Characters are referenced by content hash (read from the files), exactly as a queued
    manifest names them. Validation is the manifest's own, so the bounds are identical.

    Raises:
        UsageError: an option is malformed or outside the manifest bounds.
    """
    characters = [character_ref_for(path) for path in files.values()]
    named = [{"name": name, "sha256": ref.sha256, "ext": ref.ext} for name, ref in zip(files, characters, strict=True)]
    draft = {
        "job_id": new_job_id("render"),
        "job_type": "render",
        "created_at": "2000-01-01T00:00:00Z",
        "params": {"characters": named, **render_options_dict(args, output_name)},
    }
    try:
        params = manifest_from_dict(draft).params
    except ManifestError as error:
        raise UsageError(str(error).replace("params.", "--", 1)) from None
    assert isinstance(params, RenderParams)
    return params
