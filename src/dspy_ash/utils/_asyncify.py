"""`asyncify` / `syncify`: DSPy's helpers. Modules are natively async here, so `asyncify(module)` is its
`acall`; a plain (blocking) function runs on the sync bridge's worker threads (its LM calls come back to
the caller's loop), at most `async_max_workers` at once."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from dspy_ash._sync import call_sync, run_sync
from dspy_ash.settings import read as read_setting


class CapacityLimiter:
    """At most `total_tokens` holders at once, across event loops; the capacity can change while in use."""

    def __init__(self, total_tokens: int) -> None:
        self._total = total_tokens
        self._borrowed = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def total_tokens(self) -> int:
        return self._total

    @total_tokens.setter
    def total_tokens(self, value: int) -> None:
        self._total = value
        self._wake()

    async def __aenter__(self) -> None:
        while self._borrowed >= self._total:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter
        self._borrowed += 1

    async def __aexit__(self, *exc: object) -> None:
        self._borrowed -= 1
        self._wake()

    def _wake(self) -> None:
        free = self._total - self._borrowed
        while free > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done() and not waiter.get_loop().is_closed():
                waiter.get_loop().call_soon_threadsafe(_release, waiter)
                free -= 1


def _release(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


_limiter: CapacityLimiter | None = None


def get_limiter() -> CapacityLimiter:
    """The process's limiter for asyncified functions, sized by the current `async_max_workers` setting."""
    global _limiter
    capacity = int(read_setting("async_max_workers"))
    if _limiter is None:
        _limiter = CapacityLimiter(capacity)
    elif _limiter.total_tokens != capacity:
        _limiter.total_tokens = capacity
    return _limiter


def asyncify(program: Any) -> Callable[..., Awaitable[Any]]:
    """An async function calling `program`: a module's native `acall`, or a plain function in a worker thread
    (with this task's settings), limited to `async_max_workers` threads at once."""
    if hasattr(program, "acall"):

        async def call_module(*args: Any, **kwargs: Any) -> Any:
            return await program.acall(*args, **kwargs)

        return call_module

    async def call_in_thread(*args: Any, **kwargs: Any) -> Any:
        async with get_limiter():
            return await call_sync(program, *args, **kwargs)

    return call_in_thread


def syncify(program: Any, in_place: bool = True) -> Any:
    """A sync callable over an async program (or function)."""
    if hasattr(program, "acall"):
        return program  # modules are already callable both ways

    def run(*args: Any, **kwargs: Any) -> Any:
        return run_sync(program(*args, **kwargs))

    return run
