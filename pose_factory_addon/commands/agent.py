"""``pose-factory agent``: run the worker that claims and runs queued jobs."""

from __future__ import annotations

import argparse
from typing import Any

from ..agent import add_agent_options, run_from_args


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "agent",
        help="run a worker that claims and runs queued jobs",
        description="Poll the job store, claim jobs by lease, run them and commit the results. SIGTERM/SIGINT stop it cleanly.",
    )
    add_agent_options(parser)
    parser.set_defaults(func=run_agent_command)


def run_agent_command(args: argparse.Namespace) -> int:
    return run_from_args(args)
