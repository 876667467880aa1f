"""Process-wide limits for one LM: max requests in flight, requests per minute, tokens per minute.

Waiters queue first come, first served and never fail. The primitives guard their state with a thread
lock and wake waiters on their own loop, so one LM shared by sync callers in several threads (each with
its own loop) and by async tasks is still held to one limit.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from dspy_ash.errors import LMConfigurationError
from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._retry import Sleep
from dspy_ash.lm._tokens import estimate_tokens
from dspy_ash.lm._types import EmbeddingRequest, EmbeddingResponse, LMRequest, LMResponse

_R = TypeVar("_R", LMResponse, EmbeddingResponse)

Clock = Callable[[], float]


class _Waiter:
    __slots__ = ("future", "granted", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.granted = False


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class FairSemaphore:
    """A FIFO counting semaphore usable from any event loop in the process."""

    def __init__(self, value: int) -> None:
        if value < 1:
            raise LMConfigurationError("max_concurrency must be at least 1")
        self._value = value
        self._waiters: deque[_Waiter] = deque()
        self._lock = threading.Lock()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> None:
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._value > 0 and not self._waiters:
                self._value -= 1
                return
            waiter = _Waiter(loop)
            self._waiters.append(waiter)
        try:
            await waiter.future
        except BaseException:
            with self._lock:
                if waiter.granted:
                    self._hand_on()  # the slot was given to us as we were cancelled: pass it on
                else:
                    self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        with self._lock:
            self._hand_on()

    def _hand_on(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if waiter.loop.is_closed():
                continue
            waiter.granted = True
            try:
                same_loop = asyncio.get_running_loop() is waiter.loop
            except RuntimeError:
                same_loop = False
            if same_loop:
                _wake(waiter.future)
            else:
                waiter.loop.call_soon_threadsafe(_wake, waiter.future)
            return
        self._value += 1


class TokenBucket:
    """`per_minute` units refilled continuously, at most one minute's worth banked.

    Callers reserve in arrival order and may drive the balance negative; each then sleeps until its
    reservation is covered. Reservations made in order finish waiting in order: the queue is FIFO with no
    waiter list at all."""

    def __init__(self, per_minute: float, clock: Clock = time.monotonic) -> None:
        if per_minute <= 0:
            raise LMConfigurationError("rate limits must be positive")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._tokens = self.capacity
        self._updated = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self.clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def reserve(self, amount: float) -> float:
        """Take `amount` (at most the capacity, so one huge request cannot wait forever); return the seconds
        to wait before using it."""
        with self._lock:
            self._refill()
            self._tokens -= min(amount, self.capacity)
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def adjust(self, delta: float) -> None:
        """Charge `delta` more (or refund when negative), e.g. real usage minus the estimate."""
        with self._lock:
            self._refill()
            self._tokens = min(self.capacity, self._tokens - delta)


class RateLimitedLM(BaseLM):
    def __init__(
        self,
        inner: BaseLM,
        *,
        max_concurrency: int | None = None,
        rpm: float | None = None,
        tpm: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        super().__init__(inner.model, cache=False, num_retries=0)
        self.inner = inner
        self.semaphore = FairSemaphore(max_concurrency) if max_concurrency else None
        self.requests = TokenBucket(rpm, clock) if rpm else None
        self.tokens = TokenBucket(tpm, clock) if tpm else None
        self.sleep = sleep

    async def _admit(self, messages: list[dict[str, Any]]) -> float:
        """Wait for a slot and for rate budget; return the token estimate charged to the tpm bucket."""
        if self.semaphore is not None:
            await self.semaphore.acquire()
        estimate = 0.0
        try:
            wait = self.requests.reserve(1) if self.requests is not None else 0.0
            if self.tokens is not None:
                estimate = float(estimate_tokens(messages))
                wait = max(wait, self.tokens.reserve(estimate))
            if wait > 0:
                await self.sleep(wait)
        except BaseException:
            self._refund(estimate)
            if self.semaphore is not None:
                self.semaphore.release()
            raise
        return estimate

    def _refund(self, estimate: float) -> None:
        if self.requests is not None:
            self.requests.adjust(-1)
        if self.tokens is not None and estimate:
            self.tokens.adjust(-estimate)

    async def request(self, req: LMRequest) -> LMResponse:
        return await self._admitted(req.messages, lambda: self.inner.request(req))

    async def embed(self, req: EmbeddingRequest) -> EmbeddingResponse:
        """One embeddings call is one request against rpm; its texts are estimated against tpm."""
        messages = [{"role": "user", "content": text} for text in req.inputs]
        return await self._admitted(messages, lambda: self.inner.embed(req))

    async def _admitted(self, messages: list[dict[str, Any]], call: Callable[[], Awaitable[_R]]) -> _R:
        """Wait for a slot and the estimated tokens, make the call, then settle the estimate with the usage."""
        estimate = await self._admit(messages)
        try:
            response = await call()
        finally:
            if self.semaphore is not None:
                self.semaphore.release()
        if self.tokens is not None:
            self.tokens.adjust(response.usage.total_tokens - estimate)
        return response

    async def stream(self, req: LMRequest) -> AsyncIterator[str]:
        await self._admit(req.messages)
        try:
            async for chunk in self.inner.stream(req):
                yield chunk
        finally:
            if self.semaphore is not None:
                self.semaphore.release()
