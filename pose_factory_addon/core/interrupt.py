"""Ctrl-C as a request to stop at the next safe point, not an exception thrown into whatever runs.

Python raises ``KeyboardInterrupt`` wherever the interpreter happens to be. During a render
that is often inside a callback Blender makes into Python, which Blender catches and prints:
the interrupt was lost, the render went on, and the process died later with a traceback. So
long work installs :func:`stop_requested` instead: the first Ctrl-C (or SIGTERM) only sets an
event that the work checks between images; a second Ctrl-C stops at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

INTERRUPTED_EXIT = 130  # 128 + SIGINT, what shells report for Ctrl-C


@contextmanager
def stop_requested(signals: tuple[int, ...] = (signal.SIGINT,)) -> Iterator[threading.Event]:
    """An event set by the first of ``signals``; the second one raises ``KeyboardInterrupt`` (stop now).

    Off the main thread (where Python cannot install handlers) the event is only set by the caller.
    """
    event = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        if event.is_set():
            raise KeyboardInterrupt
        event.set()

    if threading.current_thread() is not threading.main_thread():
        yield event
        return
    previous = {number: signal.signal(number, request_stop) for number in signals}
    try:
        yield event
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
