"""`gather_all`: like `asyncio.gather`, but a failure cancels the siblings instead of orphaning them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def gather_all(*aws: Awaitable[T]) -> list[T]:
    """Results in order. On the first exception the other tasks are cancelled and awaited, then the
    original exception propagates unwrapped (no ExceptionGroup), so a simulated or real kill stays itself."""
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        pending = [t for t in tasks if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
