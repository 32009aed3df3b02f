"""Staying under Stability's rate limit, and waiting the right time before a retry.

Stability allows 150 requests per 10 s per key and blocks a key that exceeds it for 60 s. The
:class:`TokenBucket` hands out at most ``burst`` requests at once and refills at
``(limit - burst) / (window + slack)`` per second, so any ``window + slack`` seconds see at most
``burst + rate * (window + slack) = limit`` requests, however many threads ask. The slack (1 s)
absorbs the network: requests sent in the same 11 s reach Stability in the same 10 s only if their
delays differ by more than a second (measured against the local server without it: 151 arrivals in
one 10 s window at 14 requests/s). Clock and sleep are injectable (tests run hours of traffic on a
fake clock in milliseconds).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from . import defaults

_MIN_WAIT_S = 1e-6  # a computed wait can round to nothing; waiting at least this much always lets the clock move

Clock = Callable[[], float]
"""Seconds on a monotonic scale."""
Sleep = Callable[[float], object]
"""Waits the given seconds (may return early; callers re-check)."""


class TokenBucket:
    """A thread-safe token bucket: :meth:`acquire` blocks until a request may be sent.

    ``rate`` is tokens per second, ``capacity`` the most that accumulate (the burst). :meth:`hold`
    hands out nothing until a moment has passed (a 429 blocked the key).
    """

    def __init__(self, rate: float, capacity: int, clock: Clock = time.monotonic, sleep: Sleep = time.sleep) -> None:
        if not rate > 0 or capacity < 1:
            raise ValueError("a token bucket needs a rate above 0 and a capacity of at least 1")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(capacity)
        self._updated = clock()
        self._held_until = float("-inf")

    @classmethod
    def for_window(
        cls,
        limit: int = defaults.STABILITY_RATE_LIMIT,
        window_s: float = defaults.STABILITY_RATE_WINDOW_S,
        burst: int = defaults.STABILITY_RATE_BURST,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        slack_s: float = defaults.STABILITY_RATE_SLACK_S,
    ) -> TokenBucket:
        """A bucket that never lets more than ``limit`` requests into any ``window_s + slack_s`` seconds
        (``burst`` < ``limit``), hence into any ``window_s`` seconds at the server when delays differ by less
        than ``slack_s``."""
        if not 1 <= burst < limit:
            raise ValueError(f"burst must be from 1 to {limit - 1}, not {burst}")
        return cls((limit - burst) / (window_s + slack_s), burst, clock, sleep)

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now

    def acquire(self, cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Take one token, waiting as long as needed; ``False`` (and no token) once ``cancelled()`` is true."""
        while not cancelled():
            with self._lock:
                now = self._clock()
                self._refill(now)
                if now < self._held_until:
                    wait = self._held_until - now
                elif self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return True
                else:
                    wait = (1.0 - self._tokens) / self.rate
            self._sleep(max(wait, _MIN_WAIT_S))
        return False

    def hold(self, seconds: float) -> None:
        """Hand out no token for ``seconds`` from now, and start again with an empty bucket (the key was blocked)."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._held_until = max(self._held_until, now + seconds)
            self._tokens = 0.0
            self._updated = max(self._updated, self._held_until)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP date; ``None`` when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry a request that hit a rate limit, a server error or the network.

    Delays are seconds: ``Retry-After`` when the server sent one, else Stability's 60 s block after a
    429, else ``base_s`` doubling per attempt; never more than ``max_s``.
    """

    max_attempts: int = defaults.ENHANCE_MAX_ATTEMPTS
    base_s: float = defaults.ENHANCE_RETRY_BASE_S
    max_s: float = defaults.ENHANCE_RETRY_MAX_S

    def delay(self, attempt: int, retry_after: float | None = None, rate_limited: bool = False) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based) before the next one."""
        if retry_after is not None:
            wait = retry_after
        elif rate_limited:
            wait = defaults.STABILITY_RATE_LIMIT_TIMEOUT_S
        else:
            wait = self.base_s * 2 ** (attempt - 1)
        return float(min(max(wait, 0.0), self.max_s))
