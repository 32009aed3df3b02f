"""``pose-factory devices``: the render device Blender would use here, and every device it sees."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .render import add_device_option, choose_device


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "devices",
        help="show the GPU (or CPU) Blender renders with here",
        description="Ask Cycles for its devices (OptiX, CUDA, HIP, Metal, oneAPI) and show the one a render would use. "
        "Exit 2 with --device gpu when Blender sees no GPU.",
    )
    add_device_option(parser)
    parser.add_argument("--json", action="store_true", help="print the record dataset.json would hold")
    parser.set_defaults(func=run_devices)


def run_devices(args: argparse.Namespace) -> int:
    choice = choose_device(args)
    if args.json:
        print(json.dumps(choice.record(), indent=2))
        return 0
    print(f"render device: {choice.sentence()}")
    for found in choice.found:
        print(f"  {found.kind:<7} {found.name}")
    return 0
