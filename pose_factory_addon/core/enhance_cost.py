"""The price of an enhancement run, with the safety limits every job passes (light: no images, no numpy).

Stability bills each control call a fixed number of credits (``cost_config.yaml``'s
``stability_control``); :func:`check_enhance_cost` prices the requests a run will send with
:func:`~.cost.estimate` and applies :func:`~.cost.validate`, so the batch limit counts requests
(images x variations) and ``max_cost`` can only lower the configured limit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from . import defaults
from .config import Settings
from .cost import estimate, limits_from_settings, load_cost_config, validate
from .enhance_options import EnhanceOptions


@dataclass(frozen=True)
class EnhanceCost:
    """The price of the requests a run will send (USD): ``warning`` is set when it needs confirmation."""

    requests: int
    total: float
    per_request: float
    credits_per_request: float
    provider_name: str
    warning: str | None


def check_enhance_cost(requests: int, mode: str, settings: Settings, max_cost: float | None = None) -> EnhanceCost:
    """Price ``requests`` control calls with the cost config's ``stability_control`` prices and apply the limits.

    ``max_cost`` (USD) can only lower ``max_cost_per_job``. Zero requests (a finished run being resumed
    for its gate) cost nothing.

    Raises:
        CostLimitExceeded: more requests than ``max_batch_size``, or a total above the cost limit.
        ConfigError: the cost config file is invalid.
    """
    cost = _priced(requests, mode, settings)
    warning = validate(cost.total, requests, limits_from_settings(settings, max_cost)) if requests else None
    return replace(cost, warning=warning)


def _priced(requests: int, mode: str, settings: Settings) -> EnhanceCost:
    """``requests`` control calls priced, not yet checked against any limit."""
    if requests < 0:
        raise ValueError("requests must not be negative")
    config = load_cost_config(settings.cost_config or None)
    result = estimate(defaults.ENHANCE_PROVIDER, max(requests, 1), model=mode, config=config)
    total = result["total"] if requests else 0.0
    credits = float(result["breakdown"]["credits_per_call"])
    return EnhanceCost(requests, total, result["per_image"], credits, result["provider_name"], None)


def check_render_and_enhance_cost(
    render_total: float, images: int, options: EnhanceOptions, settings: Settings, max_cost: float | None = None
) -> tuple[EnhanceCost, str | None]:
    """A queued render job that also enhances: the enhancement of ``images`` rendered images priced (each
    variation is a request) and the render's ``render_total`` plus it checked against the limits.

    Returns the enhancement's cost and the warning for the sum (``None`` when no confirmation is needed).

    Raises:
        CostLimitExceeded: the requests or the sum are above a limit.
    """
    cost = _priced(images * options.variations, options.mode, settings)
    total = round(render_total + cost.total, 6)
    warning = validate(total, max(images, cost.requests), limits_from_settings(settings, max_cost))
    return cost, warning
