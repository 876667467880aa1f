"""A cache for one context (a tenant's, in a server): calls in scope A are never answered from scope B's
cache nor from the process-wide one, and the process-wide cache is left as it was."""

from __future__ import annotations

import asyncio

from lm_fakes import ScriptedLM

from dspy_ash._sync import call_sync, run_sync
from dspy_ash.lm._cache import (
    Cache,
    CachedLM,
    build_cache,
    cache_key,
    cache_scope,
    configure_cache,
    get_cache,
)
from dspy_ash.lm._types import LMRequest


def _req() -> LMRequest:
    return LMRequest(model="openai/m", messages=[{"role": "user", "content": "hi"}], params={})


async def test_concurrent_scopes_keep_their_own_entries() -> None:
    process_wide = configure_cache(enable_disk_cache=False)
    inner = ScriptedLM(["a", "b", "a again", "b again"])
    lm = CachedLM(inner)
    cache_a = build_cache(enable_disk_cache=False)
    cache_b = build_cache(enable_disk_cache=False)

    async def tenant(cache: Cache) -> list[str | None]:
        with cache_scope(cache):
            assert get_cache() is cache
            first = await lm.request(_req())
            await asyncio.sleep(0)  # the other tenant runs in between
            second = await lm.request(_req())
        return [first.choices[0].text, second.choices[0].text]

    got = await asyncio.gather(tenant(cache_a), tenant(cache_b))
    assert (
        len(inner.calls) == 2
    )  # one provider call per tenant: the second of each was a hit in its own scope
    assert got[0][0] == got[0][1] and got[1][0] == got[1][1] and got[0][0] != got[1][0]
    assert get_cache() is process_wide
    assert await process_wide.get_response(_key()) is None  # nothing went into the process-wide cache
    await lm.request(_req())  # outside the scopes: a miss, answered by the provider
    assert len(inner.calls) == 3


def _key() -> str:
    return cache_key(_req())


async def test_sync_code_on_a_worker_thread_uses_the_scope_of_its_caller() -> None:
    configure_cache(enable_disk_cache=False)
    inner = ScriptedLM(["scoped"])
    lm = CachedLM(inner)
    scoped = build_cache(enable_disk_cache=False)
    with cache_scope(scoped):
        text = await call_sync(lambda: run_sync(lm.request(_req())).choices[0].text)
    assert text == "scoped"
    hit = await scoped.get_response(_key())
    assert hit is not None and hit.choices[0].text == "scoped"
