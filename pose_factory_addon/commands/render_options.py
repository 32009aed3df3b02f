"""The render options shared by ``pose-factory render`` (local) and ``pose-factory submit`` (queued).

One definition, so a job renders the same whether it runs here or on a pod:
``--angles --elevations --frames --preset --resolution --labels --framing --seed``.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..core import defaults
from ..core.errors import ManifestError, UsageError
from ..core.frames import FRAME_SPEC_HELP
from ..core.manifest import CHARACTER_EXTENSIONS, FRAMINGS, PRESETS, RenderParams, manifest_from_dict, new_job_id
from ..core.queue import character_ref_for
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


def character_files(paths: Sequence[str | Path]) -> dict[str, Path]:
    """Character files named by their safe slug: each path is a file or a folder searched recursively.

    Raises:
        UsageError: a path is missing, a file has an unsupported type, nothing was found, or
            two files would get the same name.
    """
    found: dict[str, Path] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            candidates = sorted(
                item for item in path.rglob("*") if item.is_file() and item.suffix.lower().lstrip(".") in CHARACTER_EXTENSIONS
            )
        elif path.is_file():
            if path.suffix.lower().lstrip(".") not in CHARACTER_EXTENSIONS:
                raise UsageError(f"{path}: unsupported file type (use {', '.join('.' + ext for ext in CHARACTER_EXTENSIONS)})")
            candidates = [path]
        else:
            raise UsageError(f"{path}: no such file or folder")
        for candidate in candidates:
            try:
                name = safe_slug(candidate.stem)
            except ValueError as error:
                raise UsageError(f"{candidate}: {error}") from None
            if name in found and found[name].resolve() != candidate.resolve():
                raise UsageError(f"{candidate} and {found[name]} would both be named {name!r}; rename one")
            found[name] = candidate
    if not found:
        raise UsageError(
            f"no character files ({', '.join('.' + ext for ext in CHARACTER_EXTENSIONS)}) in {', '.join(map(str, paths))}"
        )
    return found


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
        "params": {
            "characters": named,
            "angles": args.angles,
            "elevations": _elevations(args.elevations),
            "frames": args.frames,
            "preset": args.preset,
            "resolution": _resolution(args.resolution),
            "labels": [label.strip() for label in args.labels.split(",") if label.strip()],
            "framing": args.framing,
            "seed": args.seed,
            "output_name": output_name,
        },
    }
    try:
        params = manifest_from_dict(draft).params
    except ManifestError as error:
        raise UsageError(str(error).replace("params.", "--", 1)) from None
    assert isinstance(params, RenderParams)
    return params
