"""Render parameters from what a user chose, and back to the command line of a child render.

The command line (``render``, ``submit``), the Blender panel and ``render --workers`` all build
:class:`~.manifest.RenderParams` here, so every path hashes the same files and validates with
the manifest's own rules; a child render receives its params as a render manifest file, so
nothing is lost in translation to flags.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from . import defaults
from .child_process import cli_command
from .enhance_options import EnhanceOptions
from .manifest import RenderParams, new_render_manifest, render_params_from_dict
from .queue import character_ref_for, motion_ref_for


@dataclass(frozen=True)
class RenderChoices:
    """The render options as a user gives them (before hashing files and validating).

    ``motions`` maps each motion's name to its BVH file, or to ``None`` for a library clip.
    """

    angles: int = defaults.ANGLES
    elevations: Sequence[float] = defaults.ELEVATIONS_DEG
    frames: str = defaults.FRAMES
    preset: str = defaults.PRESET
    resolution: tuple[int, int] = defaults.RESOLUTION
    labels: Sequence[str] = defaults.LABEL_SETS
    framing: str = defaults.FRAMING
    seed: int = defaults.RANDOM_SEED
    motions: Mapping[str, Path | None] = field(default_factory=dict)
    mirror: bool = False
    randomize: str = "none"
    passes: Sequence[str] = ()
    ground: bool = False
    enhance: EnhanceOptions | None = None


def parse_elevations(text: str) -> tuple[float, ...]:
    """Camera elevations from ``"0,30"`` (degrees); bounds are the manifest's to check.

    Raises:
        ValueError: not numbers separated by commas, or none at all (the message says how to write them).
    """
    parts = [part for part in text.split(",") if part.strip()]
    try:
        values = tuple(float(part) for part in parts)
    except ValueError:
        raise ValueError(f"elevations {text!r}: write degrees separated by commas, for example 0,30") from None
    if not values:
        raise ValueError("give at least one elevation (0 = level)")
    return values


def build_render_params(
    files: Mapping[str, Path], choices: RenderChoices, output_name: str = defaults.OUTPUT_NAME
) -> RenderParams:
    """Validated :class:`RenderParams` for ``{name: file}`` characters rendered with ``choices``.

    Characters and BVH motions are referenced by content hash (read from the files), exactly as a
    queued manifest names them.

    Raises:
        ManifestError: a file cannot be read or an option is outside the manifest bounds (the message names it).
    """
    characters = [{"name": name, **_ref_fields(character_ref_for(Path(path)))} for name, path in files.items()]
    data = {"characters": characters, **render_options_data(choices, output_name)}
    params = render_params_from_dict(data)
    return params if choices.enhance is None else replace(params, enhance=choices.enhance)


def render_options_data(choices: RenderChoices, output_name: str = defaults.OUTPUT_NAME) -> dict[str, Any]:
    """``choices`` in manifest form without characters (a character job's ``then_render``); BVH motions hashed."""
    motions: list[str | dict[str, str]] = [
        name if path is None else {"name": name, **_ref_fields(motion_ref_for(Path(path)))}
        for name, path in choices.motions.items()
    ]
    return {
        "angles": choices.angles,
        "elevations": [float(value) for value in choices.elevations],
        "frames": choices.frames,
        "preset": choices.preset,
        "resolution": list(choices.resolution),
        "labels": list(choices.labels),
        "framing": choices.framing,
        "seed": choices.seed,
        "output_name": output_name,
        "motions": motions,
        "mirror": choices.mirror,
        "randomize": choices.randomize,
        "passes": list(choices.passes),
        "ground": choices.ground,
    }


def _ref_fields(ref: Any) -> dict[str, str]:
    return {"sha256": ref.sha256, "ext": ref.ext}


def write_params_file(params: RenderParams, path: Path) -> Path:
    """``params`` as a render manifest at ``path`` (what ``render --params-from`` reads)."""
    path.write_text(new_render_manifest(params).to_json(), encoding="utf-8")
    return path


def child_render_command(
    params_file: Path,
    files: Mapping[str, Path],
    motion_files: Mapping[str, Path],
    out_dir: Path,
    extra: Sequence[str] = (),
    blender: str = "",
    python: str = "",
) -> list[str]:
    """The command of a child ``pose-factory render`` that renders ``files`` with the params in ``params_file``.

    ``motion_files`` are the BVH files of the params' motions (library clips need none); ``extra``
    are further render arguments (``--summary-to``, ``--backgrounds``, ``--debug-overlays``).
    """
    arguments = ["render", *map(str, files.values()), "--out", str(out_dir), "--params-from", str(params_file)]
    if motion_files:
        arguments += ["--motion", ",".join(str(path) for path in motion_files.values())]
    return cli_command([*arguments, *extra], blender, python)
