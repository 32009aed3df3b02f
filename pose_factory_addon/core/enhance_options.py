"""What an enhancement run asks Stability for, validated once for the CLI, the manifest and the panel.

The options are plain data: a prompt and numbers, never a key. ``seed`` ``None`` means "draw one
base seed when the run starts" (it is then recorded in the run's journal and every label).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from . import defaults

MODES: Final = ("structure", "sketch")
MAX_PROMPT_CHARS: Final = 10_000  # Stability's limit for prompt and negative_prompt
MAX_SEED: Final = 4_294_967_294  # Stability's largest seed; 0 asks it for a random one, so we never send 0
FIELDS: Final = ("prompt", "negative_prompt", "mode", "control_strength", "variations", "seed", "max_error")


@dataclass(frozen=True)
class EnhanceOptions:
    """One enhancement run: ``control_strength`` 0-1 (how closely the output follows the render's structure),
    ``variations`` outputs per rendered image, ``max_error`` the QA gate's limit in body heights."""

    prompt: str
    negative_prompt: str = ""
    mode: str = defaults.ENHANCE_MODE
    control_strength: float = defaults.ENHANCE_CONTROL_STRENGTH
    variations: int = defaults.ENHANCE_VARIATIONS
    seed: int | None = None
    max_error: float = defaults.ENHANCE_MAX_ERROR

    def to_dict(self) -> dict[str, Any]:
        """The manifest's ``params.enhance`` (``seed`` left out when not chosen)."""
        data = {name: getattr(self, name) for name in FIELDS}
        if self.seed is None:
            del data["seed"]
        return data


def _text(value: Any, name: str, required: bool) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text")
    if required and not value.strip():
        raise ValueError(f"{name} must not be empty: describe the image you want")
    if len(value) > MAX_PROMPT_CHARS:
        raise ValueError(f"{name} is {len(value)} characters; Stability accepts at most {MAX_PROMPT_CHARS}")
    return value.strip()


def _number(value: Any, name: str, low: float, high: float, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{name} must be a number, not {value!r}")
    if value > high or value < low or (low_open and value == low):
        bound = f"above {low:g}" if low_open else f"at least {low:g}"
        raise ValueError(f"{name} must be {bound} and at most {high:g}, not {value:g}")
    return float(value)


def _whole(value: Any, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return value


def enhance_options(
    prompt: Any,
    negative_prompt: Any = "",
    mode: Any = defaults.ENHANCE_MODE,
    control_strength: Any = defaults.ENHANCE_CONTROL_STRENGTH,
    variations: Any = defaults.ENHANCE_VARIATIONS,
    seed: Any = None,
    max_error: Any = defaults.ENHANCE_MAX_ERROR,
) -> EnhanceOptions:
    """Validated options; the one check every front end uses.

    Raises:
        ValueError: a field is missing, of the wrong type or out of range (the message names it).
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is unknown (choose from {', '.join(MODES)})")
    return EnhanceOptions(
        prompt=_text(prompt, "prompt", required=True),
        negative_prompt=_text(negative_prompt, "negative_prompt", required=False),
        mode=mode,
        control_strength=_number(control_strength, "control_strength", 0.0, 1.0),
        variations=_whole(variations, "variations", 1, defaults.ENHANCE_MAX_VARIATIONS),
        seed=None if seed is None else _whole(seed, "seed", 1, MAX_SEED),
        max_error=_number(max_error, "max_error", 0.0, 1.0, low_open=True),
    )


def options_from_dict(data: Any) -> EnhanceOptions:
    """Options from decoded JSON (a manifest's ``params.enhance``).

    Raises:
        ValueError: not an object, an unknown field, or a bad value.
    """
    if not isinstance(data, Mapping):
        raise ValueError("must be an object with prompt, negative_prompt, mode, control_strength, variations, seed, max_error")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(map(str, unknown))} (allowed: {', '.join(FIELDS)})")
    if "prompt" not in data:
        raise ValueError("prompt is required")
    return enhance_options(**{name: data[name] for name in FIELDS if name in data})
