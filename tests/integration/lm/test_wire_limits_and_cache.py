"""Limits and the cache, observed at a real server."""

from __future__ import annotations

import asyncio
from pathlib import Path

from dspy_ash.lm import _cache as cache_module
from dspy_ash.lm._lm import LM
from dspy_ash.testing.fake_servers import FakeOpenAIServer


async def test_concurrency_cap_is_observed_at_the_server(make_lm) -> None:
    async with FakeOpenAIServer(latency=0.02) as server:
        lm = make_lm("openai/gpt-4o-mini", server, max_concurrency=5, cache=False)
        await asyncio.gather(*(lm.acall(f"q{i}") for i in range(40)))
        assert server.max_in_flight == 5
        assert len(server.requests) == 40


async def test_without_a_cap_requests_overlap(make_lm) -> None:
    async with FakeOpenAIServer(latency=0.02) as server:
        lm = make_lm("openai/gpt-4o-mini", server, cache=False)
        await asyncio.gather(*(lm.acall(f"q{i}") for i in range(40)))
        assert server.max_in_flight > 5  # so the capped test above can fail


async def test_limits_hold_across_copies(make_lm) -> None:
    async with FakeOpenAIServer(latency=0.02) as server:
        lm = make_lm("openai/gpt-4o-mini", server, max_concurrency=3, cache=False)
        copies = [lm.copy(temperature=0.1 * i) for i in range(4)]
        await asyncio.gather(*(c.acall(f"q{i}-{j}") for i, c in enumerate(copies) for j in range(6)))
        assert server.max_in_flight == 3


async def test_identical_concurrent_requests_make_one_call(make_lm) -> None:
    async with FakeOpenAIServer(latency=0.02) as server:
        lm = make_lm("openai/gpt-4o-mini", server)
        results = await asyncio.gather(*(lm.acall("same question") for _ in range(30)))
        assert len(server.requests) == 1
        assert len({r[0] for r in results}) == 1
        assert sum(not h["cache_hit"] for h in lm.history) == 1


async def test_hit_miss_bypass_rollout(make_lm, openai_server: FakeOpenAIServer) -> None:
    lm = make_lm("openai/gpt-4o-mini", openai_server, temperature=1.0)
    await lm.acall("q")
    await lm.acall("q")
    assert len(openai_server.requests) == 1
    await lm.acall("q", cache=False)
    assert len(openai_server.requests) == 2
    await lm.acall("q", rollout_id=1)
    await lm.acall("q", rollout_id=1)
    await lm.acall("q", rollout_id=2)
    assert len(openai_server.requests) == 4
    assert all("rollout_id" not in r.body for r in openai_server.requests)
    uncached = make_lm("openai/gpt-4o-mini", openai_server, temperature=1.0, cache=False)
    await uncached.acall("q")
    assert len(openai_server.requests) == 5


async def test_namespaces_do_not_share_entries(make_lm, openai_server: FakeOpenAIServer) -> None:
    from dspy_ash.settings import context

    lm = make_lm("openai/gpt-4o-mini", openai_server)
    with context(cache_namespace="tenant-a"):
        await lm.acall("q")
    with context(cache_namespace="tenant-b"):
        await lm.acall("q")
    with context(cache_namespace="tenant-a"):
        await lm.acall("q")
    assert len(openai_server.requests) == 2


def test_sync_and_async_calls_share_the_key(tmp_path: Path) -> None:
    cache_module.configure_cache(disk_cache_dir=tmp_path / "c")
    with FakeOpenAIServer() as server:
        lm = LM("openai/gpt-4o-mini", api_base=server.api_base, api_key="k")
        first = lm("shared prompt")
        second = asyncio.run(lm.acall("shared prompt"))
        assert first == second
        assert len(server.requests) == 1
        assert lm.history[-1]["cache_hit"] is True


def test_disk_entries_survive_a_new_process_cache(tmp_path: Path) -> None:
    with FakeOpenAIServer() as server:
        cache_module.configure_cache(disk_cache_dir=tmp_path / "c")
        LM("openai/gpt-4o-mini", api_base=server.api_base, api_key="k")("q")
        cache_module.configure_cache(disk_cache_dir=tmp_path / "c")  # as if the process restarted
        lm = LM("openai/gpt-4o-mini", api_base=server.api_base, api_key="k")
        lm("q")
        assert len(server.requests) == 1
        assert lm.history[-1]["cache_hit"] is True
