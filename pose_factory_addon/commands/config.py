"""``pose-factory config``: show the resolved settings and where each value came from."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from ..core.config import describe_settings, load_settings


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "config",
        help="show the resolved settings and their sources",
        description="Show every setting with its value and where it came from: arguments, environment, config file "
        "or default (see docs/configuration.md).",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=show_config)


def show_config(args: argparse.Namespace) -> int:
    settings = load_settings(config_path=args.config)
    values = asdict(settings)
    sources = values.pop("sources")
    if args.json:
        print(json.dumps({key: {"value": value, "source": sources[key]} for key, value in values.items()}, indent=2))
        return 0
    envs = {key: env for key, env, _ in describe_settings()}
    width = max(len(key) for key in values)
    for key, value in values.items():
        print(f"{key:<{width}}  {value!s:<40}  {sources[key]} (env {envs[key]})")
    return 0
