"""Retries: exponential backoff with full jitter, honouring the provider's Retry-After, retryable errors only."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from dspy_ash.errors import LMError, is_retryable_lm_error
from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._types import EmbeddingRequest, EmbeddingResponse, LMRequest, LMResponse

logger = logging.getLogger("dspy_ash.lm")

Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")


@dataclass(slots=True)
class Backoff:
    """Delay before retry number `attempt` (0-based): uniform in [0, min(cap, base * 2**attempt)] ("full
    jitter", so many clients failing together do not retry together), or the server's Retry-After when it
    gave one (capped at `max_retry_after`: a server asking for an hour is better answered with an error)."""

    base: float = 1.0  # envelopes 1, 2, 4, ... s capped at 60: DSPy's schedule, with jitter under it
    cap: float = 60.0
    max_retry_after: float = 120.0
    rng: random.Random = field(default_factory=random.Random)
    sleep: Sleep = asyncio.sleep  # injected by tests, so they do not wait

    def delay(self, attempt: int, error: LMError) -> float:
        if error.retry_after is not None:
            return min(error.retry_after, self.max_retry_after)
        return self.rng.uniform(0.0, min(self.cap, self.base * 2**attempt))


class RetryingLM(BaseLM):
    """Retries `inner` up to `num_retries` times after the first attempt, waiting as `backoff` says."""

    def __init__(self, inner: BaseLM, num_retries: int = 3, *, backoff: Backoff | None = None) -> None:
        super().__init__(inner.model, cache=False, num_retries=num_retries)
        self.inner = inner
        self.backoff = backoff or Backoff()

    async def _wait_or_raise(self, attempt: int, exc: LMError) -> None:
        if attempt >= self.num_retries or not is_retryable_lm_error(exc):
            raise exc
        delay = self.backoff.delay(attempt, exc)
        logger.info(
            "LM call failed (%s: %s); retry %d/%d in %.2fs",
            type(exc).__name__,
            exc.status,
            attempt + 1,
            self.num_retries,
            delay,
        )
        await self.backoff.sleep(delay)

    async def _with_retries(self, call: Callable[[], Awaitable[T]]) -> T:
        attempt = 0
        while True:
            try:
                return await call()
            except LMError as exc:
                await self._wait_or_raise(attempt, exc)
            attempt += 1

    async def request(self, req: LMRequest) -> LMResponse:
        return await self._with_retries(lambda: self.inner.request(req))

    async def embed(self, req: EmbeddingRequest) -> EmbeddingResponse:
        return await self._with_retries(lambda: self.inner.embed(req))

    async def stream(self, req: LMRequest) -> AsyncIterator[str]:
        """Retries only until the first chunk arrives: after that the caller has seen text, and a new
        attempt would repeat it."""
        attempt = 0
        while True:
            started = False
            try:
                async for chunk in self.inner.stream(req):
                    started = True
                    yield chunk
                return
            except LMError as exc:
                if started:
                    raise
                await self._wait_or_raise(attempt, exc)
            attempt += 1
