"""The ``pose-factory`` command line.

Each verb lives in :mod:`pose_factory_addon.commands` as a module with ``add_parser``; this
file only assembles them and turns domain errors into one-line messages with exit codes
(1 = the operation failed, 2 = bad usage). bpy is imported only by the verbs that render.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__
from .core.errors import PoseFactoryError, UsageError
from .core.security import redact

# Verb modules in the order `--help` lists them.
COMMAND_MODULES = (
    "render",
    "preview",
    "qa",
    "enhance",
    "demo",
    "submit",
    "status",
    "wait",
    "download",
    "cancel",
    "agent",
    "devices",
    "cost",
    "pods",
    "config",
    "samples",
    "characters",
    "motions",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pose-factory",
        description="Render rigged characters into labeled pose datasets, locally or on cloud GPUs.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", help="YAML config file (default: $POSE_FACTORY_CONFIG, then the user config dir)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f".commands.{name}", __package__).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
    except UsageError as error:
        print(f"pose-factory {args.command}: error: {redact(str(error))}", file=sys.stderr)
        return 2
    except PoseFactoryError as error:
        print(f"pose-factory {args.command}: {redact(str(error))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"pose-factory {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
