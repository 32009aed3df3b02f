"""Render presets as plain data: which engine, how many samples, which lights.

The Blender layer (``render/scene.py``) applies a preset; choosing and documenting them
needs no Blender. Timings behind the choices are in ``benchmarks/render_throughput.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from . import defaults

Lighting = Literal["studio", "seed"]


@dataclass(frozen=True)
class RenderPreset:
    """Engine settings of one preset.

    ``engine`` is Blender's engine id; ``samples`` are Cycles path samples or EEVEE TAA
    samples (ignored by Workbench); ``denoise`` turns on OpenImageDenoise (Cycles) at
    ``denoise_quality`` (``FAST``: 4x cheaper than ``HIGH`` on a 2-core CPU and clean at 512 px);
    ``lighting`` is ``studio`` (ambient world + key/fill/rim) or ``seed`` (one SUN).
    """

    name: str
    engine: str
    samples: int
    denoise: bool
    lighting: Lighting
    description: str
    denoise_quality: str = "HIGH"


PRESETS: Final = {
    "preview": RenderPreset(
        "preview", "BLENDER_WORKBENCH", 1, False, "studio", "Workbench solid shading: fastest, for checking labels"
    ),
    "standard": RenderPreset(
        "standard",
        "CYCLES",
        4,
        True,
        "studio",
        "Cycles, 4 samples + fast OpenImageDenoise: best quality per second on CPU",
        "FAST",
    ),
    "quality": RenderPreset("quality", "CYCLES", 64, True, "studio", "Cycles, more samples + full-quality OpenImageDenoise"),
    "seed": RenderPreset(
        "seed",
        "BLENDER_EEVEE_NEXT",
        defaults.SEED_EEVEE_TAA_SAMPLES,
        False,
        "seed",
        "the seed's look: EEVEE 64 TAA samples, one SUN",
    ),
}


def render_preset(name: str) -> RenderPreset:
    """Look up a preset by name (``preview``, ``standard``, ``quality``, ``seed``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})") from None
