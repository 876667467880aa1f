"""`asyncify` on a plain blocking function: it runs in worker threads, at most `async_max_workers` at once."""

from __future__ import annotations

import asyncio
import threading
import time

import dspy_ash as dspy
from dspy_ash.utils._asyncify import get_limiter


async def test_plain_function_runs_off_the_loop_within_the_capacity():
    running, peak, lock = 0, 0, threading.Lock()

    def blocking(x: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return x * 2

    with dspy.context(async_max_workers=3):
        results = await asyncio.gather(*[dspy.asyncify(blocking)(i) for i in range(9)])
    assert results == [i * 2 for i in range(9)]
    assert 1 < peak <= 3


async def test_the_limiter_is_one_object_sized_by_the_setting():
    limiter = get_limiter()
    with dspy.context(async_max_workers=5):
        assert get_limiter() is limiter and limiter.total_tokens == 5
    assert get_limiter().total_tokens == 8


async def test_worker_threads_see_the_callers_settings():
    def read_lm() -> object:
        return dspy.settings.lm

    with dspy.context(lm="sentinel"):
        assert await dspy.asyncify(read_lm)() == "sentinel"
