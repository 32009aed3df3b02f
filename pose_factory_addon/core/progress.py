"""Progress of a child process as machine-readable lines, so a parent never parses a human progress bar.

A ``pose-factory`` verb started with ``POSE_FACTORY_PROGRESS_LINES=1`` in its environment writes
``@pose-factory-progress <done> <total> <text>`` lines on stderr instead of drawing a bar; the
Blender panel and ``render --workers`` read them with :func:`parse_progress_line`.
"""

from __future__ import annotations

import re
from typing import Final

PROGRESS_LINES_ENV: Final = "POSE_FACTORY_PROGRESS_LINES"
PREFIX: Final = "@pose-factory-progress"
_LINE = re.compile(rf"^{re.escape(PREFIX)} (\d+) (\d+)(?: (.*))?$")


def progress_line(done: int, total: int, text: str = "") -> str:
    """One progress line (no newline); ``text`` is what a person would read, on one line."""
    return f"{PREFIX} {int(done)} {int(total)} {' '.join(text.split())}".rstrip()


def parse_progress_line(line: str) -> tuple[int, int, str] | None:
    """``(done, total, text)`` of a progress line, ``None`` for any other line."""
    match = _LINE.match(line.strip())
    return None if match is None else (int(match.group(1)), int(match.group(2)), match.group(3) or "")
