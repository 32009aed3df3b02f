"""Cost estimates and the safety limits every job passes before it runs (seed §3.5, §4.2).

Prices come from ``cost_config.yaml`` shipped next to this module, with a user file merged
over it; limits come from :class:`~.config.Settings`. All money is USD, rounded to
:data:`MONEY_DECIMALS` places (a millionth of a dollar) so hand-computed values such as
``48 × 5 / 3600 × 0.42 = 0.028`` come out exactly; :func:`format_usd` is for display.

Unlike the seed, an unknown provider, resolution or model is an error naming the valid ones
(the seed silently used a multiplier of 1.0), and counts and steps are bounds-checked.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeGuard

from . import defaults
from .config import Settings
from .dataset import DATASET_FILE
from .devices import recorded_device
from .errors import ConfigError, CostLimitExceeded, UsageError

MONEY_DECIMALS = 6
SHIPPED_COST_CONFIG = Path(__file__).with_name("cost_config.yaml")
_PROVIDER_TYPES = ("local", "api", "credits")
_LOCAL_FIELDS = ("gpu_cost_per_hr", "avg_render_time_sec")
_API_FIELDS = ("base_cost", "steps_cost_per_step")
_CREDITS_FIELDS = ("usd_per_credit",)


@dataclass(frozen=True)
class CostLimits:
    """Safety limits in USD and images; a job above either maximum is refused."""

    max_cost_per_job: float
    warning_threshold: float
    max_batch_size: int
    cost_limit_source: str = "max_cost_per_job"


@dataclass(frozen=True)
class CostDecision:
    """The outcome of :func:`check_render_job` for a job that may run.

    ``total`` and ``per_image`` are USD; ``source`` says where ``seconds_per_image`` came
    from (``"measured from <path>"`` or ``"configured"``); ``warning`` is set when the total
    is above the warning threshold and the user must confirm.
    """

    total: float
    per_image: float
    seconds_per_image: float
    source: str
    warning: str | None


def _money(amount: float) -> float:
    return round(amount, MONEY_DECIMALS)


def format_usd(amount: float) -> str:
    """``$57.78`` at or above a dollar, below it every digit down to a millionth (``$0.0165``, ``$0.50``)."""
    if amount >= 1:
        return f"${amount:,.2f}"
    whole, _, fraction = f"{amount:.{MONEY_DECIMALS}f}".partition(".")
    return f"${whole}.{fraction.rstrip('0').ljust(2, '0')}"


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_yaml(path: Path, origin: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as error:
        raise ConfigError("cost_config", str(path), origin, f"cannot read the file ({error.strerror})") from error
    except yaml.YAMLError as error:
        raise ConfigError("cost_config", str(path), origin, f"not valid YAML ({error})") from error
    if not isinstance(data, dict) or not isinstance(data.get("providers", {}), dict):
        raise ConfigError("cost_config", str(path), origin, "must be a mapping with a 'providers' mapping")
    return data


def _positive_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _check_provider(key: str, provider: Any, origin: str) -> None:
    def fail(reason: str) -> ConfigError:
        return ConfigError(f"providers.{key}", provider, origin, reason)

    if not isinstance(provider, dict):
        raise fail("must be a mapping")
    if provider.get("type") not in _PROVIDER_TYPES:
        raise fail(f"type must be one of {', '.join(_PROVIDER_TYPES)}")
    required = {"local": _LOCAL_FIELDS, "api": _API_FIELDS, "credits": _CREDITS_FIELDS}[provider["type"]]
    for name in required:
        if not _positive_number(provider.get(name)):
            raise fail(f"{name} must be a number greater than 0")
    if provider["type"] == "credits":
        calls = provider.get("credits_per_call")
        if not isinstance(calls, dict) or not calls or not all(_positive_number(v) for v in calls.values()):
            raise fail("credits_per_call must map call names to credit counts greater than 0")
    if provider["type"] == "api":
        for table in ("resolutions", "models"):
            entries = provider.get(table)
            if not isinstance(entries, dict) or not entries or not all(_positive_number(v) for v in entries.values()):
                raise fail(f"{table} must map names to multipliers greater than 0")


def load_cost_config(user_file: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The shipped prices with ``user_file`` (if given) merged over them, validated.

    Returns ``{"providers": {key: {...}}}``.

    Raises:
        ConfigError: the user file is missing, unreadable or gives a provider a bad value.
    """
    config = _read_yaml(SHIPPED_COST_CONFIG, "shipped cost_config.yaml")
    origin = "shipped cost_config.yaml"
    if user_file:
        path = Path(user_file).expanduser()
        origin = f"cost config {path}"
        if not path.is_file():
            raise ConfigError("cost_config", str(path), "settings", "file does not exist")
        config = _merge(config, _read_yaml(path, origin))
    for key, provider in config["providers"].items():
        _check_provider(str(key), provider, origin)
    return config


def _choose(kind: str, value: str, choices: Iterable[str]) -> str:
    names = list(choices)
    if value not in names:
        raise UsageError(f"unknown {kind} {value!r} (valid: {', '.join(names)})")
    return value


def _whole_number_between(name: str, value: int, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UsageError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
    return value


def estimate(
    provider: str,
    count: int,
    resolution: str = defaults.COST_RESOLUTION,
    steps: int = defaults.COST_STEPS,
    model: str = defaults.COST_MODEL,
    config: Mapping[str, Any] | None = None,
    seconds_per_image: float | None = None,
    seconds_source: str = "configured",
) -> dict[str, Any]:
    """Estimate the cost of ``count`` images in the seed's §4.2 shape.

    Returns ``{"total", "per_image", "count", "provider", "provider_name", "breakdown"}``
    (USD). ``breakdown["type"]`` is ``"api"`` (base_cost, resolution and its multiplier,
    model and its multiplier, steps, steps_cost), ``"local"`` (gpu_cost_per_hr,
    seconds_per_image and its source) or ``"credits"`` (model = the priced call, its
    credits_per_call, usd_per_credit). ``seconds_per_image`` replaces the configured
    ``avg_render_time_sec`` of a local provider (a measured value). Resolution, steps and
    model do not change a local estimate; a credits provider's price depends on ``model`` only.

    Raises:
        UsageError: unknown provider, resolution or model (listing the valid ones), or a
            count or step number out of bounds.
    """
    providers = (config if config is not None else load_cost_config())["providers"]
    _choose("provider", provider, providers)
    _whole_number_between("count", count, 1, defaults.MAX_ESTIMATE_IMAGES)
    _whole_number_between("steps", steps, defaults.MIN_DIFFUSION_STEPS, defaults.MAX_DIFFUSION_STEPS)
    prices = providers[provider]
    breakdown: dict[str, Any]
    if prices["type"] == "local":
        seconds = prices["avg_render_time_sec"] if seconds_per_image is None else seconds_per_image
        if not _positive_number(seconds):
            raise UsageError(f"seconds per image must be greater than 0, not {seconds!r}")
        per_image = seconds / 3600 * prices["gpu_cost_per_hr"]
        breakdown = {
            "type": "local",
            "gpu_cost_per_hr": prices["gpu_cost_per_hr"],
            "seconds_per_image": seconds,
            "seconds_source": "configured" if seconds_per_image is None else seconds_source,
        }
    elif prices["type"] == "credits":
        _choose("model", model, prices["credits_per_call"])
        per_image = prices["credits_per_call"][model] * prices["usd_per_credit"]
        breakdown = {
            "type": "credits",
            "model": model,
            "credits_per_call": prices["credits_per_call"][model],
            "usd_per_credit": prices["usd_per_credit"],
        }
    else:
        _choose("resolution", resolution, prices["resolutions"])
        _choose("model", model, prices["models"])
        steps_cost = steps * prices["steps_cost_per_step"]
        per_image = prices["base_cost"] * prices["resolutions"][resolution] * prices["models"][model] + steps_cost
        breakdown = {
            "type": "api",
            "base_cost": prices["base_cost"],
            "resolution": resolution,
            "resolution_multiplier": prices["resolutions"][resolution],
            "model": model,
            "model_multiplier": prices["models"][model],
            "steps": steps,
            "steps_cost": _money(steps_cost),
        }
    return {
        "total": _money(per_image * count),
        "per_image": _money(per_image),
        "count": count,
        "provider": provider,
        "provider_name": str(prices.get("name", provider)),
        "breakdown": breakdown,
    }


def list_providers(config: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every provider with its key, name, type, prices, and (API) resolutions and models or (credits) calls."""
    providers = (config if config is not None else load_cost_config())["providers"]
    return [{"provider": key, "name": str(prices.get("name", key)), **prices} for key, prices in providers.items()]


def limits_from_settings(settings: Settings, max_cost: float | None = None) -> CostLimits:
    """The configured limits, with ``max_cost`` (USD) lowering, never raising, the cost limit.

    Raises:
        UsageError: ``max_cost`` is negative.
    """
    limit, source = settings.max_cost_per_job, "max_cost_per_job"
    if max_cost is not None:
        if max_cost < 0:
            raise UsageError(f"--max-cost must not be negative, not {max_cost}")
        if max_cost < limit:
            limit, source = max_cost, "--max-cost"
    return CostLimits(
        max_cost_per_job=limit,
        warning_threshold=min(settings.warning_threshold, limit),
        max_batch_size=settings.max_batch_size,
        cost_limit_source=source,
    )


def validate(total: float, count: int, limits: CostLimits) -> str | None:
    """Refuse a job above the limits; return a warning when it needs confirmation, else ``None``.

    Raises:
        CostLimitExceeded: ``count`` is above ``max_batch_size`` or ``total`` (USD) above
            ``max_cost_per_job``; the message gives the numbers and the limit's name.
    """
    if count > limits.max_batch_size:
        raise CostLimitExceeded(f"{count} images is above the batch limit of {limits.max_batch_size} images (max_batch_size)")
    if total > limits.max_cost_per_job:
        limit = format_usd(limits.max_cost_per_job)
        raise CostLimitExceeded(f"estimated cost {format_usd(total)} is above the limit of {limit} ({limits.cost_limit_source})")
    if total > limits.warning_threshold:
        return f"estimated cost {format_usd(total)} is above the warning threshold of {format_usd(limits.warning_threshold)}"
    return None


def _dataset_preset(dataset: Mapping[str, Any]) -> Any:
    preset = dataset.get("preset")
    if isinstance(preset, dict):
        return preset.get("name")
    if preset is None and isinstance(dataset.get("spec"), dict):
        return dataset["spec"].get("preset")
    return preset


def _dataset_seconds_per_image(dataset: Mapping[str, Any]) -> float | None:
    timings = dataset.get("timings")
    if isinstance(timings, dict) and _positive_number(timings.get("per_image_s")):
        return float(timings["per_image_s"])
    images = dataset.get("images")
    if not isinstance(images, list):
        return None
    seconds: list[float] = []
    for image in images:
        if isinstance(image, dict):
            busy = sum(value for key in ("render_s", "label_s") if _positive_number(value := image.get(key)))
            if busy > 0:
                seconds.append(busy)
    return sum(seconds) / len(seconds) if seconds else None


def _dataset_files(search_dirs: Sequence[str | os.PathLike[str]]) -> list[Path]:
    found: set[Path] = set()
    for folder in search_dirs:
        root = Path(folder).expanduser()
        if not root.is_dir():
            continue
        for candidate in (root / DATASET_FILE, *root.glob(f"*/{DATASET_FILE}")):
            if candidate.is_file():
                found.add(candidate.resolve())
    return sorted(found, key=lambda path: path.stat().st_mtime, reverse=True)


def measured_seconds_per_image(preset: str, search_dirs: Sequence[str | os.PathLike[str]]) -> tuple[float, Path] | None:
    """GPU seconds per image of ``preset`` measured by the newest matching ``dataset.json`` rendered on a GPU.

    Looks at ``<dir>/dataset.json`` and ``<dir>/*/dataset.json`` for each folder in
    ``search_dirs`` (the downloaded job results), newest first. Only datasets whose ``device``
    record says ``GPU`` count: a pod bills GPU time, and a CPU render (or one from before devices
    were recorded, when every render ran on the CPU) says nothing about it. The renderer's
    ``dataset.json`` names the preset in ``preset.name`` (or ``spec.preset``) and gives
    ``timings.per_image_s``: wall-clock seconds per image including import and framing, which is
    what a GPU pod bills. A file without it falls back to the mean of ``render_s + label_s`` over
    its ``images``. Unreadable or differently shaped files are skipped, never an error.

    Returns:
        ``(seconds, path)`` or ``None`` when no dataset has timings for ``preset``.
    """
    for path in _dataset_files(search_dirs):
        try:
            dataset = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        if not isinstance(dataset, dict) or _dataset_preset(dataset) != preset or recorded_device(dataset) != "GPU":
            continue
        seconds = _dataset_seconds_per_image(dataset)
        if seconds:
            return seconds, path
    return None


def check_render_job(
    image_count: int,
    preset: str,
    settings: Settings,
    max_cost: float | None = None,
    search_dirs: Sequence[str | os.PathLike[str]] = (),
) -> CostDecision:
    """Estimate a render job on a GPU pod and apply the safety limits before it is submitted.

    Seconds per image are measured from the newest GPU-rendered ``dataset.json`` of ``preset`` under
    ``search_dirs`` (see :func:`measured_seconds_per_image`), else the configured
    ``avg_render_time_sec`` of the ``local`` provider. ``max_cost`` (USD) can only lower
    ``settings.max_cost_per_job``.

    Raises:
        CostLimitExceeded: the job is above ``max_batch_size`` or the cost limit.
        ConfigError: the cost config file is invalid.
    """
    measured = measured_seconds_per_image(preset, search_dirs)
    seconds, source = (measured[0], f"measured from {measured[1]}") if measured else (None, "configured")
    result = estimate(
        defaults.COST_PROVIDER,
        image_count,
        config=load_cost_config(settings.cost_config or None),
        seconds_per_image=seconds,
        seconds_source=source,
    )
    warning = validate(result["total"], image_count, limits_from_settings(settings, max_cost))
    return CostDecision(
        total=result["total"],
        per_image=result["per_image"],
        seconds_per_image=result["breakdown"]["seconds_per_image"],
        source=source,
        warning=warning,
    )
