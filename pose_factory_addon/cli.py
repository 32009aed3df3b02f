"""The ``pose-factory`` command line.

Each verb lives in :mod:`pose_factory_addon.commands` as a module with ``add_parser``; this
file only assembles them and turns errors into one-line messages with exit codes (1 = the
operation failed, 2 = bad usage), argparse's usage errors included. bpy is imported only by
the verbs that render.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from . import __version__
from .core.errors import PoseFactoryError, UsageError
from .core.security import redact

_CONFIG_HELP = "YAML config file (default: $POSE_FACTORY_CONFIG, then config.yaml in the user config dir)"
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


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, ``<prog>: error: <message> (see `<prog> --help`)``, like every other error of
    the CLI: argparse's usage block before it would bury the one line that says what is wrong."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")

    def add_subparsers(self, **kwargs: Any) -> Any:
        kwargs.setdefault("parser_class", _VerbParser)
        return super().add_subparsers(**kwargs)


class _VerbParser(_Parser):
    """A verb's (or a verb's action's) parser: an argument it does not know is reported under its name
    (``pose-factory render: error: unrecognized arguments: --bogus``), not under the top-level parser's.
    It also takes ``--config`` after the verb, where people type it (``pose-factory config --config x.yaml``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE", help=_CONFIG_HELP)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pose-factory",
        description="Render rigged characters into labeled pose datasets, locally or on cloud GPUs.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", metavar="FILE", help=_CONFIG_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f".commands.{name}", __package__).add_parser(subparsers)
    return parser


class _Notices(logging.Handler):
    """Warnings of the package's modules (an S3 endpoint that does not answer yet) as ``pose-factory <verb>: ...``
    lines on stderr, written to whatever ``sys.stderr`` is at the time."""

    def __init__(self, verb: str) -> None:
        super().__init__(logging.WARNING)
        self.verb = verb

    def emit(self, record: logging.LogRecord) -> None:
        print(f"pose-factory {self.verb}: {redact(record.getMessage())}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    notices = logging.getLogger(__package__)
    handler = _Notices(args.command)
    notices.addHandler(handler)
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
    except OSError as error:  # the file system refused something no check foresaw (a full disk, a vanished folder)
        where = f": {error.filename}" if error.filename else ""
        print(f"pose-factory {args.command}: {redact(error.strerror or str(error))}{where}", file=sys.stderr)
        return 1
    finally:
        notices.removeHandler(handler)
    return int(status or 0)


if __name__ == "__main__":
    sys.exit(main())
