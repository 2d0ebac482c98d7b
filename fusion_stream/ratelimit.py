"""Async token buckets, one per key (provider), that pace calls inside one worker process."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[object]]

# Float error can leave a waiter a few ulps short after sleeping exactly the computed time;
# treat that as there rather than sleeping again for a nanosecond.
_EPSILON = 1e-9


class TokenBucket:
    """``rate`` tokens a second, up to ``burst`` banked; waiters served first come, first served.

    The head waiter sleeps exactly until its tokens are there; the others queue behind it on a
    FIFO lock, so a large request is never starved by small ones and nobody polls.

    :param rate: tokens added per second (> 0)
    :param burst: most tokens banked while idle (the bucket starts full); default 1: evenly
        spaced calls, at most ``rate * T + 1`` in any window of T seconds, where a burst of
        B allows ``rate * T + B`` and can trip a provider's per-second limit.
    :param clock: monotonic seconds; injectable for tests
    :param sleep: async sleep; injectable for tests
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._clock, self._sleep = clock, sleep
        self._lock = asyncio.Lock()  # FIFO: asyncio.Lock wakes waiters in arrival order
        self._rate, self._burst = _checked(rate, burst)
        self._tokens = self._burst
        self._updated = clock()  # the time _tokens refers to; in the future while penalised

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def burst(self) -> float:
        return self._burst

    def configure(self, rate: float, burst: float | None = None) -> None:
        """Change rate and burst in place, keeping banked tokens (capped) and queued waiters."""
        rate, burst = _checked(rate, burst)
        self._refill(self._clock())
        self._rate, self._burst = rate, burst
        self._tokens = min(self._tokens, burst)

    def tokens(self) -> float:
        """Tokens available now (0 while penalised)."""
        now = self._clock()
        return 0.0 if now < self._updated else self._level(now)

    def _level(self, at: float) -> float:
        return min(self._burst, self._tokens + max(0.0, at - self._updated) * self._rate)

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._tokens, self._updated = self._level(now), now

    def _wait(self, tokens: float, now: float) -> float:
        start = max(now, self._updated)
        missing = tokens - self._level(start)
        return start - now + max(0.0, missing) / self._rate

    async def acquire(self, tokens: float = 1.0) -> float:
        """Wait until ``tokens`` are available, take them, and return the seconds waited."""
        if not 0 < tokens <= self._burst:
            raise ValueError(f"tokens must be in (0, burst={self._burst}], got {tokens!r}")
        started = self._clock()
        async with self._lock:
            # Re-check after each sleep: a penalty or a new rate may have come meanwhile.
            # (A request above a burst lowered while it queued takes the whole burst.)
            while (wait := self._wait(min(tokens, self._burst), self._clock())) > _EPSILON:
                await self._sleep(wait)
            self._refill(self._clock())
            self._tokens = max(0.0, self._tokens - tokens)
        return self._clock() - started

    def penalise(self, seconds: float) -> None:
        """Hand out no token before now + ``seconds`` (a 429 / Retry-After), then resume at
        the base rate with one token banked, not with a burst. Never shortens a penalty."""
        if not math.isfinite(seconds):
            raise ValueError(f"penalty must be finite, got {seconds!r}")
        if seconds <= 0:
            return
        now = self._clock()
        until = now + seconds
        if until <= self._updated:
            return
        level = self._level(until)  # what the bucket would have had by then anyway
        self._tokens, self._updated = min(level, 1.0), until


def _checked(rate: float, burst: float | None) -> tuple[float, float]:
    burst = 1.0 if burst is None else burst
    if not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be a positive number, got {rate!r}")
    if not (math.isfinite(burst) and burst > 0):
        raise ValueError(f"burst must be a positive number, got {burst!r}")
    return float(rate), float(burst)


class RateLimiter:
    """Token buckets by key (provider name); a ``None`` rate means unlimited.

    Limits are per worker process (and event loop): with N replicas the provider sees up to
    N x rate, so configure each worker's share.
    """

    def __init__(self, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self._clock, self._sleep = clock, sleep
        self._buckets: dict[str, TokenBucket] = {}

    def bucket(
        self, key: str, rate: float | None, burst: float | None = None
    ) -> TokenBucket | None:
        """The bucket for ``key`` at ``rate``; a changed rate reconfigures it in place."""
        if rate is None:
            self._buckets.pop(key, None)  # waiters already queued on it still finish
            return None
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(rate, burst, self._clock, self._sleep)
        elif (bucket.rate, bucket.burst) != _checked(rate, burst):
            bucket.configure(rate, burst)
        return bucket

    async def acquire(
        self, key: str, rate: float | None, tokens: float = 1.0, burst: float | None = None
    ) -> float:
        """Wait for ``tokens`` from ``key``'s bucket; returns seconds waited (0 if unlimited)."""
        bucket = self.bucket(key, rate, burst)
        return 0.0 if bucket is None else await bucket.acquire(tokens)

    def penalise(self, key: str, seconds: float) -> None:
        """Apply a provider's Retry-After to ``key``'s bucket, if it is rate limited."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.penalise(seconds)
