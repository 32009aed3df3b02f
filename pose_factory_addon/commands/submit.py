"""``pose-factory submit``: upload characters once, estimate the cost, and queue a render job."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..core import defaults
from ..core.character_files import character_files
from ..core.config import load_settings
from ..core.cost import check_render_job, format_usd
from ..core.enhance_cost import check_render_and_enhance_cost
from ..core.errors import CostLimitExceeded, UsageError
from ..core.manifest import new_render_manifest
from ..core.queue import JobQueue
from ..core.security import safe_slug
from ..core.serverless import ServerlessJobs
from ._confirm import confirmed
from ._queue_args import add_backend_options, add_store_option
from .enhance import add_enhance_options, enhance_options_from_args
from .render_options import add_render_options, motion_files, render_params_from_args
from .wait import wait_for_job

ENHANCE_PREFIX = "enhance-"  # `submit --enhance-prompt ...` adds params.enhance (the options of `pose-factory enhance`)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "submit",
        help="queue a render job for agents (prints the job id)",
        description="Upload the characters (once, by content hash), check the cost limits, and queue a render job.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="character files (.fbx, .glb, .gltf) or folders")
    add_render_options(parser)
    parser.add_argument("--name", default="dataset", help="output name recorded in the job (default %(default)s)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="first open every character with Blender (the bpy module, in this process) and refuse, before anything "
        "is uploaded, files without an armature with Mixamo bone names",
    )
    add_enhance_options(parser.add_argument_group("enhancement after the render (docs/enhancement.md)"), ENHANCE_PREFIX)
    parser.add_argument(
        "--max-cost", type=float, metavar="USD", help="refuse above this many USD (can only lower max_cost_per_job)"
    )
    parser.add_argument("--yes", action="store_true", help="submit without asking when the cost is above the warning threshold")
    parser.add_argument("--wait", action="store_true", help="then wait for the job like `pose-factory wait`")
    parser.add_argument("--timeout", type=float, metavar="S", help="with --wait: seconds to wait (default: wait_timeout setting)")
    add_store_option(parser)
    add_backend_options(parser)
    parser.set_defaults(func=run_submit)


def _check_characters(files: Mapping[str, Path]) -> None:
    """Open each character as a worker would; refuse the submission when any of them cannot be rendered."""
    try:
        from ..render.character_check import character_problems
    except ImportError:
        raise UsageError(
            "--check opens the characters with Blender's bpy module, which this Python lacks "
            "(install the bpy 4.5 wheel, or run headless/cli.py inside Blender)"
        ) from None
    problems = character_problems(files)
    if problems:
        count = f"{len(problems)} of {len(files)} characters" if len(files) > 1 else "the character"
        raise UsageError(f"{count} cannot be rendered, nothing was uploaded: {'; '.join(problems)}")
    print(f"checked {len(files)} character(s) with Blender: each has a Mixamo-like rig and a skinned mesh", file=sys.stderr)


def run_submit(args: argparse.Namespace) -> int:
    settings = load_settings(
        {"store": args.store, "backend": args.backend, "serverless_endpoint": args.endpoint}, config_path=args.config
    )
    files = character_files(args.paths)
    params = render_params_from_args(args, files, output_name=safe_slug(args.name))
    if args.check:
        _check_characters(files)
    if args.enhance_prompt is not None:
        params = replace(params, enhance=enhance_options_from_args(args, ENHANCE_PREFIX))
    count = params.estimated_images()
    decision = check_render_job(count, params.preset, settings, args.max_cost, search_dirs=[defaults.DOWNLOAD_ROOT])
    warning = decision.warning
    per_image = f"{format_usd(decision.per_image)} per image, {decision.source}"
    estimate = f"estimate: {count} images, {format_usd(decision.total)} ({per_image})"
    if params.enhance is not None:
        enhancement, warning = check_render_and_enhance_cost(decision.total, count, params.enhance, settings, args.max_cost)
        together = format_usd(decision.total + enhancement.total)
        estimate += f"; then {enhancement.requests} Stability requests, {format_usd(enhancement.total)}; together {together}"
    print(estimate, file=sys.stderr)
    if warning and not args.yes and not confirmed(warning, "Submit"):
        raise CostLimitExceeded(f"{warning}; not submitted (pass --yes to submit anyway)")
    queue = JobQueue.from_settings(settings)
    jobs: JobQueue | ServerlessJobs = ServerlessJobs(queue, settings) if settings.backend == "serverless" else queue
    if isinstance(jobs, ServerlessJobs):
        jobs.check_configured()  # no endpoint or API key: say so before anything is uploaded
    for path in files.values():
        queue.upload_character(path)
    for motion_path in motion_files(args.motion).values():
        if motion_path is not None:
            queue.upload_motion(motion_path)
    manifest = new_render_manifest(params)
    jobs.submit(manifest)
    print(manifest.job_id)
    sys.stdout.flush()
    if args.wait:
        timeout = args.timeout if args.timeout is not None else settings.wait_timeout
        return wait_for_job(jobs, manifest.job_id, timeout, min(settings.poll_interval, 2.0))
    return 0
