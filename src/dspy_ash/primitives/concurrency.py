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
    results: list[R | None] = [None] * len(items)
    outcome = Outcome(results)
    next_index = 0
    stop = asyncio.Event()

    async def worker() -> None:
        nonlocal next_index
        while not stop.is_set():
            i = next_index
            if i >= len(items):
                return
            next_index += 1
            try:
                if timeout is not None:
                    value = await asyncio.wait_for(fn(items[i]), timeout)
                else:
                    value = await fn(items[i])
            except asyncio.CancelledError:
                if stop.is_set():  # cancelled by the stop below: this item is one of "the rest"
                    return
                raise
            except Exception as exc:
                outcome.errors[i] = exc
                logger.debug("item %d failed: %r", i, exc)
                if on_result is not None:
                    on_result(i, None, exc)
                if max_errors is not None and len(outcome.errors) > max_errors and not stop.is_set():
                    stop.set()
                    for w in workers:
                        if w is not asyncio.current_task():
                            w.cancel()
                continue
            results[i] = value
            if on_result is not None:
                on_result(i, value, None)

    width = max(1, min(limit, len(items)))
    workers = [asyncio.ensure_future(worker()) for _ in range(width)]
    try:
        await asyncio.gather(*workers)
    finally:
        for w in workers:
            w.cancel()
    if stop.is_set():
        first = outcome.errors[min(outcome.errors)]
        raise TooManyErrors(
            f"Execution cancelled: {len(outcome.errors)} items failed (max_errors={max_errors}). First error: {first!r}"
        ) from first
    return outcome
