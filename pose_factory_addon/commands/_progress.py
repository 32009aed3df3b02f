"""Progress of long local work: a one-line bar on a terminal, plain log lines otherwise, and machine-readable
lines (:mod:`pose_factory_addon.core.progress`) when a parent process asked for them."""

from __future__ import annotations

import os
import sys
import time
from typing import TextIO

from ..core.progress import PROGRESS_LINES_ENV, progress_line

_BAR_WIDTH = 24
_PLAIN_EVERY_S = 5.0


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """Callable ``(done, total)`` that shows images done / total, the rate and the ETA on ``stream``; :meth:`phase`
    adds the step in progress (a long import or framing step, so the bar does not look stuck)."""

    def __init__(self, label: str, stream: TextIO | None = None, unit: str = "images") -> None:
        self.label = label
        self.unit = unit
        self.stream = stream or sys.stderr
        self.machine = os.environ.get(PROGRESS_LINES_ENV) == "1"
        self.interactive = self.stream.isatty() and not self.machine
        self.started = time.monotonic()
        self.last_line = 0.0
        self.shown = False
        self.done = 0
        self.total = 0
        self.step = ""

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        text = self._text()
        if self.machine:
            print(progress_line(done, total, text), file=self.stream, flush=True)
        elif self.interactive:
            self._draw(text)
        elif done == total or time.monotonic() - self.last_line >= _PLAIN_EVERY_S:
            self.last_line = time.monotonic()
            print(text, file=self.stream, flush=True)

    def phase(self, step: str) -> None:
        """Say which step starts (machines and terminals see each; a plain log only the imports)."""
        self.step = step
        if self.machine:
            print(progress_line(self.done, self.total, f"{self.label}: {step}"), file=self.stream, flush=True)
        elif self.interactive:
            self._draw(self._text())
        elif step.startswith("importing"):
            print(f"{self.label}: {step}", file=self.stream, flush=True)

    def _text(self) -> str:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 and self.done else 0.0
        eta = _clock((self.total - self.done) / rate) if rate else "?"
        return f"{self.label}: {self.done}/{self.total} {self.unit}, {rate:.2f} {self.unit}/s, ETA {eta}"

    def _draw(self, text: str) -> None:
        filled = round(_BAR_WIDTH * self.done / self.total) if self.total else 0
        bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
        step = f" ({self.step})" if self.step else ""
        self.stream.write(f"\r[{bar}] {text}{step}\033[K")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        """End the bar's line (terminal only)."""
        if self.interactive and self.shown:
            self.stream.write("\n")
            self.stream.flush()
