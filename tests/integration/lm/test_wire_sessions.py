"""One pooled session per event loop: reused within a loop, never shared across loops, closed at shutdown."""

from __future__ import annotations

import asyncio
import gc
import threading
import warnings

import aiohttp

from dspy_ash.lm import _http as http
from dspy_ash.lm._lm import LM
from dspy_ash.testing.fake_servers import FakeOpenAIServer


async def test_one_session_per_loop_reused() -> None:
    first = await http.get_session()
    assert await http.get_session() is first
    await http.close_session()
    assert first.closed
    assert await http.get_session() is not first


def test_sessions_follow_their_loop_and_close_with_it() -> None:
    sessions: list[aiohttp.ClientSession] = []
    with FakeOpenAIServer() as server:
        lm = LM("openai/gpt-4o-mini", api_base=server.api_base, api_key="k", cache=False)

        async def call() -> None:
            await lm.acall("hi")
            sessions.append(await http.get_session())

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an unclosed session would warn when collected
            asyncio.run(call())
            asyncio.run(call())  # a new loop: the first loop's session is closed and never reused
            gc.collect()
        assert sessions[0] is not sessions[1]
        assert sessions[0].closed and sessions[1].closed
        assert len(server.requests) == 2


def test_threads_with_their_own_loops_share_one_lm() -> None:
    with FakeOpenAIServer(latency=0.01) as server:
        lm = LM("openai/gpt-4o-mini", api_base=server.api_base, api_key="k", cache=False, max_concurrency=2)
        errors: list[BaseException] = []

        def worker(i: int) -> None:
            try:
                for j in range(5):
                    lm(f"q{i}-{j}")
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(server.requests) == 20
        assert server.max_in_flight <= 2  # the limit holds across loops in different threads


async def test_a_thousand_requests_in_flight() -> None:
    async with FakeOpenAIServer(latency=0.3) as server:
        lm = LM("openai/gpt-4o-mini", api_base=server.api_base, api_key="k", cache=False)
        await asyncio.gather(*(lm.acall(f"q{i}") for i in range(1024)))
        assert server.max_in_flight > 1000  # nothing queued in the connection pool


def test_a_loop_that_dies_does_not_break_the_next_one() -> None:
    with FakeOpenAIServer() as server:
        lm = LM("openai/gpt-4o-mini", api_base=server.api_base, api_key="k", cache=False)
        loop = asyncio.new_event_loop()
        loop.run_until_complete(lm.acall("first"))
        dead = loop.run_until_complete(http.get_session())
        loop.close()  # closed without shutting down: its session is never closed

        async def second() -> aiohttp.ClientSession:
            await lm.acall("second")
            return await http.get_session()

        fresh = asyncio.run(second())
        assert fresh is not dead
        assert len(server.requests) == 2
        # The abandoned session still holds a socket; drop it synchronously (its loop is gone) so the
        # test leaves nothing behind to complain at interpreter exit.
        dead.connector._close()  # type: ignore[union-attr]
        dead.detach()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            del loop, dead
            gc.collect()
