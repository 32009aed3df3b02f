"""``pose-factory cost``: estimate what a batch of images costs, and list the priced providers."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..core import defaults
from ..core.config import Settings, load_settings
from ..core.cost import (
    CostLimits,
    estimate,
    format_usd,
    limits_from_settings,
    list_providers,
    load_cost_config,
    measured_seconds_per_image,
    validate,
)
from ..core.errors import UsageError
from ..core.manifest import PRESETS
from ._tables import format_table

# How each provider type prices an image, as the first line of an estimate says it.
_PRICED_BY = {"local": "priced by GPU time", "api": "priced per generated image", "credits": "priced in credits per call"}


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "cost",
        help="estimate the cost of a batch of images, or list providers",
        description="Estimate the cost of COUNT images (refused above the safety limits), or `cost providers` to list prices.",
    )
    parser.add_argument("what", nargs="?", choices=["providers"], help="list the providers and their prices instead")
    parser.add_argument(
        "--provider",
        default=defaults.COST_PROVIDER,
        help=f"provider key from `pose-factory cost providers` (default {defaults.COST_PROVIDER}: a RunPod GPU pod)",
    )
    parser.add_argument("--count", type=int, metavar="N", help=f"number of images, 1-{defaults.MAX_ESTIMATE_IMAGES:,}")
    parser.add_argument(
        "--resolution", default=defaults.COST_RESOLUTION, help=f"WxH for API providers (default {defaults.COST_RESOLUTION})"
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=defaults.COST_STEPS,
        help=f"diffusion steps for API providers, {defaults.MIN_DIFFUSION_STEPS}-{defaults.MAX_DIFFUSION_STEPS} "
        f"(default {defaults.COST_STEPS})",
    )
    parser.add_argument("--model", default=defaults.COST_MODEL, help=f"model for API providers (default {defaults.COST_MODEL})")
    parser.add_argument(
        "--preset",
        choices=PRESETS,
        default=defaults.PRESET,
        help="for the local (GPU pod) provider: use the GPU seconds per image a downloaded dataset.json of this preset "
        f"measured (searched in {defaults.DOWNLOAD_ROOT}/; default %(default)s)",
    )
    parser.add_argument("--max-cost", type=float, help="refuse above this many USD (can only lower max_cost_per_job)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run_cost)


def run_cost(args: argparse.Namespace) -> int:
    settings = load_settings(config_path=args.config)
    config = load_cost_config(settings.cost_config or None)
    if args.what == "providers":
        return _print_providers(list_providers(config), args.json)
    if args.count is None:
        raise UsageError("--count is required (or use `pose-factory cost providers`)")
    measured = None
    if config["providers"].get(args.provider, {}).get("type") == "local":
        measured = measured_seconds_per_image(args.preset, [defaults.DOWNLOAD_ROOT])
    result = estimate(
        args.provider,
        args.count,
        args.resolution,
        args.steps,
        args.model,
        config=config,
        seconds_per_image=measured[0] if measured else None,
        seconds_source=f"measured on a GPU ({measured[1]})" if measured else "configured",
    )
    limits = limits_from_settings(settings, args.max_cost)
    warning = validate(result["total"], result["count"], limits)
    if warning:
        print(f"pose-factory cost: warning: {warning}; a job this size needs confirmation", file=sys.stderr)
    checked = _checked_limits(settings, limits)
    if args.json:
        limits_json = {name: {"value": value, "source": source} for name, value, _shown, source in checked}
        print(json.dumps({**result, "warning": warning, "limits": limits_json}, indent=2))
        return 0
    breakdown = result["breakdown"]
    print(f"provider {result['provider']}: {result['provider_name']}, {_PRICED_BY[breakdown['type']]}")
    print(f"  images     {result['count']}")
    print(f"  per image  {format_usd(result['per_image'])}")
    print(f"  total      {format_usd(result['total'])}")
    if breakdown["type"] == "local":
        print(f"  GPU time   {breakdown['seconds_per_image']} s per image at {format_usd(breakdown['gpu_cost_per_hr'])}/h")
        print(f"  seconds    {breakdown['seconds_source']}")
    elif breakdown["type"] == "credits":
        credits = f"{breakdown['credits_per_call']:g} credits per {breakdown['model']} call"
        print(f"  pricing    {credits} at {format_usd(breakdown['usd_per_credit'])} per credit")
    else:
        steps = f"{breakdown['steps']} steps ({format_usd(breakdown['steps_cost'])})"
        resolution = f"{breakdown['resolution_multiplier']} ({breakdown['resolution']})"
        model = f"{breakdown['model_multiplier']} ({breakdown['model']})"
        print(f"  pricing    {format_usd(breakdown['base_cost'])} x {resolution} x {model} + {steps}")
    print(f"limits checked: {'above warning_threshold, a job this size needs confirmation' if warning else 'within all'}")
    width = max(len(shown) for _name, _value, shown, _source in checked)
    for name, _value, shown, source in checked:
        print(f"  {name:<18} {shown:<{width}}  ({source})")
    return 0


def _checked_limits(settings: Settings, limits: CostLimits) -> list[tuple[str, float | int, str, str]]:
    """``(setting, value, value as shown, where it came from)`` for each limit an estimate is checked against."""
    cost_source = "--max-cost" if limits.cost_limit_source == "--max-cost" else settings.sources["max_cost_per_job"]
    warning_source = settings.sources["warning_threshold"]
    if limits.warning_threshold < settings.warning_threshold:
        warning_source = f"lowered to the cost limit from {cost_source}"
    return [
        ("max_cost_per_job", limits.max_cost_per_job, format_usd(limits.max_cost_per_job), cost_source),
        ("warning_threshold", limits.warning_threshold, format_usd(limits.warning_threshold), warning_source),
        ("max_batch_size", limits.max_batch_size, f"{limits.max_batch_size} images", settings.sources["max_batch_size"]),
    ]


def _print_providers(providers: list[dict[str, Any]], as_json: bool) -> int:
    if as_json:
        print(json.dumps(providers, indent=2))
        return 0
    rows = []
    for entry in providers:
        if entry["type"] == "local":
            price = f"{format_usd(entry['gpu_cost_per_hr'])}/h GPU, {entry['avg_render_time_sec']} s per image"
            options = "-"
        elif entry["type"] == "credits":
            price = f"{format_usd(entry['usd_per_credit'])} per credit"
            calls = entry["credits_per_call"].items()
            options = "models " + ", ".join(f"{name} ({credits:g} credits)" for name, credits in calls)
        else:
            price = f"{format_usd(entry['base_cost'])} base + {format_usd(entry['steps_cost_per_step'])}/step"
            options = f"resolutions {', '.join(entry['resolutions'])}; models {', '.join(entry['models'])}"
        rows.append([entry["provider"], entry["name"], entry["type"], price, options])
    print(format_table(["PROVIDER", "NAME", "TYPE", "PRICE", "OPTIONS"], rows))
    return 0
