"""Per-key request rate limits, kept in the process: a token bucket per key."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from dspy_ash.actions._errors import RateLimitedError


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class KeyRateLimiter:
    """`check(key, per_minute)` spends one request of `key`'s bucket or raises RateLimitedError with the
    seconds until one is free. Buckets hold a minute's worth, so a quiet key may burst that much."""

    _MAX_KEYS = 100_000  # forget idle keys beyond this, so a flood of distinct keys cannot grow memory

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._now = clock

    def check(self, key: str, per_minute: int) -> None:
        now = self._now()
        rate = per_minute / 60.0
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._MAX_KEYS:
                self._buckets.clear()
            bucket = self._buckets[key] = _Bucket(float(per_minute), now)
        bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens < 1.0:
            retry_after = (1.0 - bucket.tokens) / rate
            raise RateLimitedError(
                f"rate limit of {per_minute} requests per minute reached", retry_after=retry_after
            )
        bucket.tokens -= 1.0
