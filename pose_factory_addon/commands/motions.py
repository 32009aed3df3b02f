"""``pose-factory motions list``: the bundled motion clips that ``--motion`` can retarget onto characters."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from ..core.motion import LIBRARY_SOURCE, MOTION_FPS, library_summaries
from ._tables import format_table


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "motions",
        help="list the bundled motion clips (for --motion)",
        description="The motion library that `render --motion` and `submit --motion` retarget onto characters.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list",
        help="every clip with its duration and frame count",
        description=f"The clips `--motion NAME,...` retargets onto characters, resampled to {MOTION_FPS:g} fps.",
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(func=list_motions)


def list_motions(args: argparse.Namespace) -> int:
    clips = library_summaries()
    if args.json:
        print(json.dumps([asdict(clip) for clip in clips], indent=1))
        return 0
    rows = [
        (clip.name, f"{clip.duration_s:.2f} s", clip.frames, "loop" if clip.loop else "once", clip.description) for clip in clips
    ]
    print(format_table(("motion", "duration", "frames", "plays", "shows"), rows))
    print(f"\n{len(clips)} clips at {MOTION_FPS:g} fps; add --mirror to render each one mirrored too. Source: {LIBRARY_SOURCE}.")
    return 0
