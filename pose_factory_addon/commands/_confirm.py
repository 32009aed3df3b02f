"""The one yes/no question verbs ask before spending money above the warning threshold."""

from __future__ import annotations

import sys


def confirmed(warning: str, action: str) -> bool:
    """Ask ``<warning>. <action> anyway? [y/N]`` on a terminal; without one (a script, a pipe) the answer is no."""
    if not sys.stdin.isatty():
        return False
    answer = input(f"{warning}. {action} anyway? [y/N] ")
    return answer.strip().lower() in ("y", "yes")
