"""``pose-factory enhance DATASET --prompt TEXT``: renders made photo-real by Stability AI, kept only where the labels still fit.

Prices the run and applies the safety limits before any request (asking above the warning
threshold unless ``--yes``), sends the images to Stability's structure or sketch control
endpoint, writes ``<DATASET>_enhanced`` and drops every image whose pose MediaPipe no longer
finds where the labels say (the QA gate). Interrupted runs resume where they stopped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import defaults
from ..core.config import load_settings
from ..core.cost import format_usd
from ..core.enhance_options import FIELDS, MODES, EnhanceOptions, enhance_options
from ..core.errors import CostLimitExceeded, UsageError
from ..core.output_paths import writable_folder
from ._confirm import confirmed
from ._progress import ProgressBar

if TYPE_CHECKING:
    from ..core.enhance import EnhanceResult


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "enhance",
        help="make renders photo-real with Stability AI, gated by the label QA (needs STABILITY_API_KEY, `make qa-setup`)",
        description="Send every image of DATASET to Stability AI's structure (or sketch) control endpoint, write the "
        "enhanced dataset beside it with the same labels, and drop the images whose pose no longer matches them.",
    )
    parser.add_argument("dataset", type=Path, metavar="DATASET", help="folder written by `pose-factory render`")
    parser.add_argument("--out", type=Path, metavar="DIR", help="where the enhanced dataset goes (default: DATASET_enhanced)")
    add_enhance_options(parser)
    parser.add_argument(
        "--max-cost", type=float, metavar="USD", help="refuse above this many USD (can only lower max_cost_per_job)"
    )
    parser.add_argument("--yes", action="store_true", help="start without asking when the cost is above the warning threshold")
    parser.set_defaults(func=run_enhance)


def add_enhance_options(parser: argparse.ArgumentParser, prefix: str = "") -> None:
    """The enhancement options, shared with ``submit`` (``prefix="enhance-"``: ``--enhance-prompt`` asks for
    enhancement after the render). Without a prefix ``--prompt`` is required."""
    dest = prefix.replace("-", "_")
    prompt_help = 'what the images should look like, e.g. "a photo of a person in a park"'
    if prefix:
        prompt_help = f"then enhance the rendered images with Stability AI: {prompt_help} (see `pose-factory enhance`)"
    parser.add_argument(f"--{prefix}prompt", dest=f"{dest}prompt", metavar="TEXT", required=not prefix, help=prompt_help)
    parser.add_argument(
        f"--{prefix}negative-prompt",
        dest=f"{dest}negative_prompt",
        default="",
        metavar="TEXT",
        help="what they should not look like (default: nothing)",
    )
    parser.add_argument(
        f"--{prefix}mode",
        dest=f"{dest}mode",
        choices=MODES,
        default=defaults.ENHANCE_MODE,
        help="control endpoint (default %(default)s)",
    )
    parser.add_argument(
        f"--{prefix}control-strength",
        dest=f"{dest}control_strength",
        type=float,
        default=defaults.ENHANCE_CONTROL_STRENGTH,
        metavar="S",
        help="0-1, how closely the result follows the render (default %(default)s)",
    )
    parser.add_argument(
        f"--{prefix}variations",
        dest=f"{dest}variations",
        type=int,
        default=defaults.ENHANCE_VARIATIONS,
        metavar="N",
        help=f"enhanced images per render, 1-{defaults.ENHANCE_MAX_VARIATIONS}, each one paid (default %(default)s)",
    )
    parser.add_argument(
        f"--{prefix}seed",
        dest=f"{dest}seed",
        type=int,
        metavar="SEED",
        help="seed of the first request (request i uses seed + i; default: drawn once)",
    )
    parser.add_argument(
        f"--{prefix}max-error",
        dest=f"{dest}max_error",
        type=float,
        default=defaults.ENHANCE_MAX_ERROR,
        metavar="E",
        help="QA gate: drop images whose body error is above E body heights (default %(default)s)",
    )


def enhance_options_from_args(args: argparse.Namespace, prefix: str = "") -> EnhanceOptions:
    """The options :func:`add_enhance_options` parsed, validated.

    Raises:
        UsageError: a value is out of range (the message names it).
    """
    dest = prefix.replace("-", "_")
    values = [getattr(args, f"{dest}{name}") for name in FIELDS]
    try:
        return enhance_options(*values)
    except ValueError as error:
        raise UsageError(str(error)) from None


def run_enhance(args: argparse.Namespace) -> int:
    from ..core.enhance import default_out_dir, enhance, plan_enhancement
    from ..core.enhance_cost import check_enhance_cost
    from ..core.qa_detector import find_qa_python
    from ..core.stability import StabilityClient

    options = enhance_options_from_args(args)
    if args.out is not None:
        writable_folder(args.out, "--out")
    settings = load_settings(config_path=args.config)
    client = StabilityClient.from_settings(settings)
    qa_python = find_qa_python()
    plan = plan_enhancement(args.dataset, args.out or default_out_dir(args.dataset), options)
    cost = check_enhance_cost(len(plan.pending), options.mode, settings, args.max_cost)
    done = len(plan.items) - len(plan.pending)
    resumed = f", {done} already done" if done else ""
    print(
        f"estimate: {cost.requests} requests ({plan.image_count} images x {options.variations} variations{resumed}), "
        f"{format_usd(cost.total)} ({format_usd(cost.per_request)} = {cost.credits_per_request:g} credits per image)",
        file=sys.stderr,
    )
    if cost.warning and not args.yes and not confirmed(cost.warning, "Enhance"):
        raise CostLimitExceeded(f"{cost.warning}; not started (pass --yes to start anyway)")
    bar, qa_bar = ProgressBar("enhance"), ProgressBar("qa gate")
    bars = [bar]

    def gate_progress(done: int, total: int) -> None:
        if bars[-1] is bar:  # the requests are done: end their line before the gate's starts
            bar.close()
            bars.append(qa_bar)
        qa_bar(done, total)

    try:
        result = enhance(plan, client, cost, progress=bar, qa_progress=gate_progress, qa_python=qa_python)
    finally:
        bars[-1].close()
    _print_summary(result, options.max_error)
    return 0


def _print_summary(result: EnhanceResult, max_error: float) -> None:
    gate, sent = result.gate, result.sent
    print(
        f"enhanced into {result.out_dir}: {len(gate.kept)} kept, {len(gate.rejected)} rejected by the QA gate "
        f"(body error above {max_error:g} body heights or no person), {len(result.failures)} refused by Stability"
    )
    for record in gate.rejected:
        print(f"  rejected {record['image']}: {record['reason']}")
    for failure in result.failures:
        print(f"  refused  {failure['image']}: {failure['error']}")
    print(
        f"requests: {sent.requests} sent ({sent.finished} answers, {sent.refused} refused, {sent.reused} from an earlier run), "
        f"{sent.requests_per_second:.1f} requests/s"
    )
    if gate.qa_html is not None:
        print(f"label check of every enhanced image: {gate.qa_html}")
