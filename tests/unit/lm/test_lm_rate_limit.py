"""Rate limits: a FIFO concurrency cap and token buckets for requests and tokens per minute."""

from __future__ import annotations

import asyncio

import pytest
from lm_fakes import FakeTime, ScriptedLM

from dspy_ash.lm._rate_limit import FairSemaphore, RateLimitedLM, TokenBucket
from dspy_ash.lm._types import LMRequest


def _req(text: str = "hi") -> LMRequest:
    return LMRequest(model="m", messages=[{"role": "user", "content": text}])


async def test_semaphore_is_fifo() -> None:
    sem = FairSemaphore(1)
    await sem.acquire()
    order: list[int] = []

    async def waiter(i: int) -> None:
        await sem.acquire()
        order.append(i)
        sem.release()

    tasks = [asyncio.create_task(waiter(i)) for i in range(20)]
    await asyncio.sleep(0)
    sem.release()
    await asyncio.gather(*tasks)
    assert order == list(range(20))


async def test_cancelled_waiter_does_not_lose_a_slot() -> None:
    sem = FairSemaphore(1)
    await sem.acquire()
    cancelled = asyncio.create_task(sem.acquire())
    await asyncio.sleep(0)
    later = asyncio.create_task(sem.acquire())
    await asyncio.sleep(0)
    cancelled.cancel()
    sem.release()
    await asyncio.wait_for(later, 1)  # the slot reached the next waiter
    assert sem.waiting == 0


async def test_slot_granted_while_cancelled_is_passed_on() -> None:
    sem = FairSemaphore(1)
    await sem.acquire()
    first = asyncio.create_task(sem.acquire())
    second = asyncio.create_task(sem.acquire())
    await asyncio.sleep(0)
    sem.release()  # grants `first`...
    first.cancel()  # ...which is cancelled before it runs
    await asyncio.wait_for(second, 1)
    assert first.cancelled() and second.done() and sem.waiting == 0
    # exactly one slot is held (by `second`): another acquirer waits until it is released
    third = asyncio.create_task(sem.acquire())
    await asyncio.sleep(0)
    assert not third.done() and sem.waiting == 1
    sem.release()
    await asyncio.wait_for(third, 1)
    sem.release()
    await asyncio.wait_for(sem.acquire(), 1)  # and the slot came back: none was lost or duplicated


async def test_concurrency_cap_is_never_exceeded() -> None:
    in_flight = peak = 0

    class Counting(ScriptedLM):
        async def request(self, req: LMRequest):  # type: ignore[no-untyped-def]
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.001)
            in_flight -= 1
            return await super().request(req)

    lm = RateLimitedLM(Counting(), max_concurrency=4)
    await asyncio.gather(*(lm.request(_req()) for _ in range(40)))
    assert peak == 4


def test_bucket_paces_after_the_burst(fake_time: FakeTime) -> None:
    bucket = TokenBucket(2, clock=fake_time)  # 2 per minute
    waits = [bucket.reserve(1) for _ in range(4)]
    assert waits == [0.0, 0.0, 30.0, 60.0]
    fake_time.now += 60
    assert bucket.reserve(1) == pytest.approx(30.0)


def test_bucket_caps_huge_reservations(fake_time: FakeTime) -> None:
    bucket = TokenBucket(100, clock=fake_time)
    assert bucket.reserve(1_000_000) == 0.0  # charged as one full minute, not a day
    assert bucket.reserve(100) == pytest.approx(60.0)


async def test_rpm_pacing_with_fake_clock(fake_time: FakeTime) -> None:
    lm = RateLimitedLM(ScriptedLM(), rpm=60, clock=fake_time, sleep=fake_time.sleep)
    start = fake_time.now
    await asyncio.gather(*(lm.request(_req()) for _ in range(63)))
    # a minute's burst of 60, then one request per second (the fake sleep advances the clock)
    assert fake_time.sleeps == pytest.approx([1.0, 1.0, 1.0])
    assert fake_time.now - start == pytest.approx(3.0)


async def test_tpm_charges_the_estimate_then_real_usage(fake_time: FakeTime) -> None:
    inner = ScriptedLM()  # reports 15 total tokens per call
    lm = RateLimitedLM(inner, tpm=600, clock=fake_time, sleep=fake_time.sleep)
    assert isinstance(lm.tokens, TokenBucket) and lm.requests is None  # a tpm bucket only
    long_prompt = "x" * 4000  # estimated at ~1000 tokens, more than a minute's budget
    await lm.request(_req(long_prompt))
    assert fake_time.sleeps == []  # the first reservation fits the (capped) bucket
    # corrected to the real 15 tokens: the bucket is nearly full again
    assert lm.tokens.reserve(0) == 0.0
    await lm.request(_req("short"))
    assert fake_time.sleeps == []


async def test_rate_waiters_are_served_in_arrival_order(fake_time: FakeTime) -> None:
    order: list[str] = []
    inner = ScriptedLM(on_call=lambda r: order.append(r.messages[0]["content"]))
    lm = RateLimitedLM(inner, rpm=1, max_concurrency=1, clock=fake_time, sleep=fake_time.sleep)
    await asyncio.gather(*(lm.request(_req(f"r{i}")) for i in range(5)))
    assert order == [f"r{i}" for i in range(5)]
