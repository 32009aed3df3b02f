"""Progress of a long local render: a one-line bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

_BAR_WIDTH = 24
_PLAIN_EVERY_S = 5.0


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    """Callable ``(done, total)`` that shows images done / total, the rate and the ETA on ``stream``."""

    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.started = time.monotonic()
        self.last_line = 0.0
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        elapsed = time.monotonic() - self.started
        rate = done / elapsed if elapsed > 0 and done else 0.0
        eta = _clock((total - done) / rate) if rate else "?"
        text = f"{self.label}: {done}/{total} images, {rate:.2f} img/s, ETA {eta}"
        if self.interactive:
            filled = round(_BAR_WIDTH * done / total) if total else 0
            bar = "#" * filled + "-" * (_BAR_WIDTH - filled)
            self.stream.write(f"\r[{bar}] {text}  ")
            self.stream.flush()
            self.shown = True
        elif done == total or time.monotonic() - self.last_line >= _PLAIN_EVERY_S:
            self.last_line = time.monotonic()
            print(text, file=self.stream, flush=True)

    def close(self) -> None:
        """End the bar's line (terminal only)."""
        if self.interactive and self.shown:
            self.stream.write("\n")
            self.stream.flush()
