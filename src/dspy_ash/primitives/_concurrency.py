"""Bounded concurrency for batch, Parallel, Evaluate and optimizers: asyncio workers, not threads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from dspy_ash.errors import DspyAshError

T = TypeVar("T")
R = TypeVar("R")

logger = logging.getLogger("dspy_ash.concurrency")


class TooManyErrors(DspyAshError, RuntimeError):
    """Raised when more items failed than `max_errors` allows; the first error is the cause."""


@dataclass
class Outcome(Generic[R]):
    results: list[R | None]
    errors: dict[int, BaseException] = field(default_factory=dict)

    @property
    def failed(self) -> list[int]:
        return sorted(self.errors)


async def run_bounded(
    items: Sequence[T],
    fn: Callable[[T], Awaitable[R]],
    *,
    limit: int,
    max_errors: int | None = None,
    timeout: float | None = None,
    on_result: Callable[[int, R | None, BaseException | None], None] | None = None,
) -> Outcome[R]:
    """Call `fn` on every item with at most `limit` in flight; results keep the input order.

    A failed item leaves None in its slot and its exception in `errors`. Once more than `max_errors`
    items have failed, the rest are cancelled (those in flight too, without waiting for sync code that
    is blocked in its thread) and `TooManyErrors` is raised.
    """
    pool = _Pool(items, fn, max_errors, timeout, on_result)
    pool.workers = [asyncio.ensure_future(pool.work()) for _ in range(max(1, min(limit, len(items))))]
    try:
        await asyncio.gather(*pool.workers)
    finally:
        for w in pool.workers:
            w.cancel()
    outcome = pool.outcome
    if pool.stop.is_set():
        first = outcome.errors[min(outcome.errors)]
        raise TooManyErrors(
            f"Execution cancelled: {len(outcome.errors)} items failed (max_errors={max_errors}). First error: {first!r}"
        ) from first
    return outcome


class _Pool(Generic[T, R]):
    """The shared state of `run_bounded`'s workers: the next item to take, the outcome, the stop flag."""

    def __init__(
        self,
        items: Sequence[T],
        fn: Callable[[T], Awaitable[R]],
        max_errors: int | None,
        timeout: float | None,
        on_result: Callable[[int, R | None, BaseException | None], None] | None,
    ) -> None:
        self.items = items
        self.fn = fn
        self.max_errors = max_errors
        self.timeout = timeout
        self.on_result = on_result
        self.outcome: Outcome[R] = Outcome([None] * len(items))
        self.next_index = 0
        self.stop = asyncio.Event()
        self.workers: list[asyncio.Future[None]] = []

    async def work(self) -> None:
        """Take items in order until none is left or the pool stops."""
        while not self.stop.is_set():
            i = self.next_index
            if i >= len(self.items):
                return
            self.next_index += 1
            try:
                value = await self._call(self.items[i])
            except asyncio.CancelledError:
                if self.stop.is_set():  # cancelled by `_failed`'s stop: this item is one of "the rest"
                    return
                raise
            except Exception as exc:
                self._failed(i, exc)
                continue
            self.outcome.results[i] = value
            if self.on_result is not None:
                self.on_result(i, value, None)

    async def _call(self, item: T) -> R:
        if self.timeout is not None:
            return await asyncio.wait_for(self.fn(item), self.timeout)
        return await self.fn(item)

    def _failed(self, i: int, exc: Exception) -> None:
        """Record the error; past `max_errors`, stop and cancel the other workers."""
        self.outcome.errors[i] = exc
        logger.debug("item %d failed: %r", i, exc)
        if self.on_result is not None:
            self.on_result(i, None, exc)
        if (
            self.max_errors is not None
            and len(self.outcome.errors) > self.max_errors
            and not self.stop.is_set()
        ):
            self.stop.set()
            for w in self.workers:
                if w is not asyncio.current_task():
                    w.cancel()
