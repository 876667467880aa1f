"""Single flight across threads and event loops, counted where it matters: requests arriving at the server.

Each plain thread that calls the sync API runs its own event loop, so these are also tests across loops.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import dspy_ash
from dspy_ash.errors import LMBadRequestError
from dspy_ash.lm import _http as http
from dspy_ash.lm._lm import LM
from dspy_ash.testing.fake_servers import FakeOpenAIServer, Fault, Reply

THREADS = 4


def _at_once(fn: Callable[[int], Any], n: int = THREADS) -> list[Any]:
    """Run `fn(i)` on `n` plain threads released together; each thread's result or exception, in order."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a thread is still waiting"
    return results


def _until(condition: Callable[[], bool], timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def _lm(server: FakeOpenAIServer, **kwargs: Any) -> LM:
    return LM("openai/gpt-4o-mini", api_base=server.api_base, api_key="k", **kwargs)


def test_threads_calling_lm_share_one_request() -> None:
    with FakeOpenAIServer(latency=0.3) as server:
        lm = _lm(server)
        results = _at_once(lambda _: lm("the same prompt"))
        assert len(server.requests) == 1
        assert len({r[0] for r in results}) == 1
        assert sum(not h["cache_hit"] for h in lm.history) == 1  # only the leader's usage counts


def test_threads_calling_a_sync_predict_share_one_request() -> None:
    with FakeOpenAIServer(latency=0.3) as server:
        lm = _lm(server)

        def predict(_: int) -> str:
            with dspy_ash.context(lm=lm):
                return dspy_ash.Predict("question -> answer")(question="What is 2+2?").answer

        assert _at_once(predict) == ["answer for What is 2+2?"] * THREADS
        assert len(server.requests) == 1


def test_threads_and_tasks_on_another_loop_share_one_request() -> None:
    with FakeOpenAIServer(latency=0.3) as server:
        lm = _lm(server)

        async def tasks() -> list[Any]:
            return await asyncio.gather(*(lm.acall("mixed") for _ in range(5)))

        results = _at_once(lambda i: lm("mixed") if i % 2 else asyncio.run(tasks()))
        assert len(server.requests) == 1
        assert all(isinstance(r, list) for r in results), results
        assert sum(not h["cache_hit"] for h in lm.history) == 1


def test_the_leaders_error_reaches_every_waiting_thread_and_is_not_cached() -> None:
    with FakeOpenAIServer(latency=0.3) as server:
        server.fail_next(Fault.bad_request("no such parameter"))  # a 400: not retried
        lm = _lm(server)
        results = _at_once(lambda _: lm("fails once"))
        assert all(isinstance(r, LMBadRequestError) for r in results), results
        assert len(server.requests) == 1  # the waiters did not repeat the failed request
        assert lm("fails once") and len(server.requests) == 2  # the error was not cached


def test_cache_false_bypasses_single_flight_across_threads() -> None:
    with FakeOpenAIServer(latency=0.2) as server:
        lm = _lm(server)
        _at_once(lambda _: lm("uncached", cache=False))
        assert len(server.requests) == THREADS


def test_a_waiting_thread_survives_a_leader_cancelled_on_another_loop() -> None:
    # the leader's reply would take 2 s; the waiter's own request (after the cancel) is answered at once
    with FakeOpenAIServer(script=[Reply(text="late", delay=2)]) as server:
        lm = _lm(server)
        leader_sent = threading.Event()
        cancelled_at: list[float] = []

        async def lead_then_cancel() -> None:
            task = asyncio.create_task(lm.acall("q"))
            while not server.requests:
                await asyncio.sleep(0.005)
            leader_sent.set()
            await asyncio.sleep(0.5)  # the waiter is waiting for this call by now
            cancelled_at.append(time.monotonic())
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        leader = threading.Thread(target=lambda: asyncio.run(lead_then_cancel()))
        leader.start()
        assert leader_sent.wait(5)
        outcome: list[Any] = []
        waiter = threading.Thread(target=lambda: outcome.append((lm("q"), time.monotonic())))
        waiter.start()
        waiter.join(timeout=4)
        leader.join(timeout=5)
        assert not waiter.is_alive(), "the waiter hangs on a cancelled leader"
        (answer, finished_at) = outcome[0]
        assert answer != ["late"] and finished_at >= cancelled_at[0]  # it waited, then led its own call
        assert len(server.requests) == 2
        _until(lambda: server.in_flight == 0)  # the cancelled request's connection is gone


def test_a_waiting_thread_takes_over_from_a_leader_whose_loop_stopped() -> None:
    """A leader can be left suspended on a loop nobody turns any more (a sync call that returned before
    it, a loop run with `run_until_complete`): a waiter on another thread must notice, not wait for ever."""
    with FakeOpenAIServer(script=[Reply(text="never seen", delay=2)]) as server:
        lm = _lm(server)
        loop = asyncio.new_event_loop()
        stranded: list[asyncio.Task[Any]] = []
        outcome: list[Any] = []
        waiter = threading.Thread(target=lambda: outcome.append((lm("q"), time.monotonic())))

        async def start_leader_and_a_waiter() -> None:
            stranded.append(asyncio.create_task(lm.acall("q")))
            while not server.requests:
                await asyncio.sleep(0.005)
            waiter.start()
            await asyncio.sleep(0.3)  # the waiter is waiting for this call by now

        loop.run_until_complete(start_leader_and_a_waiter())  # returns with the leader still in flight
        stopped_at = time.monotonic()
        try:
            waiter.join(timeout=4)
            assert not waiter.is_alive(), "the waiter waits for a leader nobody runs"
            (answer, finished_at) = outcome[0]
            assert answer != ["never seen"] and finished_at >= stopped_at
            assert len(server.requests) == 2
        finally:
            stranded[0].cancel()
            loop.run_until_complete(asyncio.gather(*stranded, return_exceptions=True))
            loop.run_until_complete(http.close_session())
            loop.close()
            _until(lambda: server.in_flight == 0)  # the stranded request's connection is gone


async def test_a_sync_call_holding_the_leaders_loop_does_not_wait_for_that_leader() -> None:
    """A task on this loop leads a call; then sync code on the same loop asks for the same prompt. The sync
    call holds the loop while a worker thread runs it, so the leader cannot finish until it returns: the
    worker must make the call itself instead of waiting for a leader that is held."""
    with FakeOpenAIServer(latency=0.3) as server:
        lm = _lm(server)
        leader = asyncio.ensure_future(lm.acall("the same prompt"))
        for _ in range(500):  # until the leader's request is in flight (turning this loop meanwhile)
            if server.requests:
                break
            await asyncio.sleep(0.01)
        assert server.requests
        started = time.monotonic()
        held = lm("the same prompt")  # sync, inside this running loop
        assert time.monotonic() - started < 5, "the sync call waited for the leader it held"
        assert held == await asyncio.wait_for(leader, 10)
        assert len(server.requests) == 2  # the held leader's request, and the sync call's own
