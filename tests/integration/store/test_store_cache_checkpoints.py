"""The SQL LM cache backend (TTL, tenant namespaces, plugged into the LM layer) and the run checkpoint store."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from store_helpers import FakeLM

from dspy_ash.errors import DspyAshError
from dspy_ash.lm._cache import Cache, CachedLM
from dspy_ash.lm._cache_backend import CacheEntry
from dspy_ash.lm._memory_cache import MemoryLRU
from dspy_ash.store import Database, RunCheckpointStore, SqlCacheBackend, repos

VALUE = {"choices": [{"text": "Paris"}], "usage": {"prompt_tokens": 3}}


class Clock:
    """An injectable clock (seconds since the epoch) that tests move by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def cache(database_url: str, tenant: uuid.UUID) -> AsyncIterator[SqlCacheBackend]:
    backend = SqlCacheBackend(database_url, tenant_id=tenant)
    yield backend
    await backend.close()


async def test_put_get_overwrite_delete(cache: SqlCacheBackend) -> None:
    assert await cache.get("k") is None
    await cache.put("k", VALUE, namespace="acme")
    assert await cache.get("k") == CacheEntry(VALUE)
    await cache.put("k", {"choices": []})
    assert await cache.get("k") == CacheEntry({"choices": []})
    await cache.delete("k")
    assert await cache.get("k") is None


async def test_expiry_is_absolute_and_read_on_the_backends_clock(
    database_url: str, tenant: uuid.UUID
) -> None:
    clock = Clock()
    backend = SqlCacheBackend(database_url, tenant_id=tenant, clock=clock)
    await backend.put("fresh", VALUE, expires_at=clock.now + 3600)
    await backend.put("stale", VALUE, expires_at=clock.now - 1)
    await backend.put("brief", VALUE, expires_at=clock.now + 60)
    await backend.put("forever", VALUE)
    assert await backend.get("brief") == CacheEntry(VALUE, clock.now + 60)  # the expiry comes back exactly
    assert await backend.get("stale") is None
    clock.now += 59.999
    assert await backend.get("brief") is not None
    clock.now += 0.001
    assert await backend.get("brief") is None  # expired at its moment, not a clock read elsewhere
    assert await backend.purge_expired() == 2
    assert await backend.get("fresh") == CacheEntry(VALUE, clock.now - 60 + 3600)
    assert await backend.get("forever") == CacheEntry(VALUE)
    await backend.close()


@pytest.mark.parametrize("reader_ttl", [60, 3600])
async def test_an_entry_promoted_from_the_store_keeps_its_stored_expiry(
    database_url: str, tenant: uuid.UUID, reader_ttl: float
) -> None:
    clock = Clock()
    backend = SqlCacheBackend(database_url, tenant_id=tenant, clock=clock)
    inner = FakeLM()
    writer = Cache.over(memory=MemoryLRU(100, 1 << 20, clock), backend=backend, ttl=60, clock=clock)
    await CachedLM(inner, cache=writer).acall("What is the capital of France?")  # expires 60 s from now
    reader = Cache.over(memory=MemoryLRU(100, 1 << 20, clock), backend=backend, ttl=reader_ttl, clock=clock)
    lm = CachedLM(inner, cache=reader)
    clock.now += 49
    await lm.acall("What is the capital of France?")  # from the store, promoted to the reader's memory
    assert inner.calls == 1 and reader.memory is not None and len(reader.memory) == 1
    clock.now += 11
    await lm.acall("What is the capital of France?")
    assert inner.calls == 2
    await backend.close()


async def test_tenants_never_see_each_others_entries(
    database_url: str, tenant: uuid.UUID, other_tenant: uuid.UUID, cache: SqlCacheBackend
) -> None:
    other = SqlCacheBackend(database_url, tenant_id=other_tenant)
    await cache.put("same-key", VALUE)
    assert await other.get("same-key") is None
    await other.put("same-key", {"choices": [{"text": "Rome"}]})
    await other.clear()
    assert await cache.get("same-key") == CacheEntry(VALUE)
    await other.close()


async def test_plugged_into_the_lm_cache(cache: SqlCacheBackend) -> None:
    inner = FakeLM()
    lm = CachedLM(inner, cache=Cache.over(memory=None, backend=cache))
    first = await lm.acall("What is the capital of France?")
    second = await lm.acall("What is the capital of France?")
    assert first == second and inner.calls == 1


async def _run(db: Database, tenant: uuid.UUID) -> uuid.UUID:
    async with db.transaction() as s:
        program = await repos.programs.create_program(
            s, tenant_id=tenant, actor="t", name="p", source="a.b:C"
        )
        return (
            await repos.runs.create_optimizer_run(
                s, tenant_id=tenant, actor="t", program_id=program.id, optimizer="MIPROv2"
            )
        ).id


async def test_checkpoints_live_on_the_run(db: Database, database_url: str, tenant: uuid.UUID) -> None:
    run_id = await _run(db, tenant)
    store = RunCheckpointStore(database_url, tenant_id=tenant, run_id=run_id)
    assert await store.load("mipro") is None
    await store.save("mipro", {"trial": 1, "scores": [0.5], "rng": [1, 2, 3]})
    await store.save("bootstrap", {"done": [0, 1]})
    await store.save("mipro", {"trial": 2, "scores": [0.5, 0.7], "rng": [4, 5, 6]})
    assert await store.load("mipro") == {"trial": 2, "scores": [0.5, 0.7], "rng": [4, 5, 6]}
    assert await store.load("bootstrap") == {"done": [0, 1]}
    async with db.transaction() as s:
        run = await repos.runs.get_run(s, tenant_id=tenant, kind="optimizer", run_id=run_id)
        assert set(run.checkpoint) == {"mipro", "bootstrap"}
    await store.delete("bootstrap")
    assert await store.load("bootstrap") is None and await store.load("mipro") is not None
    # a fresh store (a resumed process) reads the same checkpoint
    resumed = RunCheckpointStore(database_url, tenant_id=tenant, run_id=run_id)
    assert (await resumed.load("mipro") or {})["trial"] == 2
    await store.close()
    await resumed.close()


async def test_a_failed_save_keeps_the_previous_checkpoint(
    db: Database, database_url: str, tenant: uuid.UUID
) -> None:
    run_id = await _run(db, tenant)
    store = RunCheckpointStore(database_url, tenant_id=tenant, run_id=run_id)
    await store.save("k", {"trial": 1})
    with pytest.raises(ValueError):
        await store.save("k", {"trial": 2, "bad": float("nan")})  # not JSON: refused, nothing half-written
    assert await store.load("k") == {"trial": 1}
    await store.close()


async def test_checkpoints_are_scoped_to_the_tenant(
    db: Database, database_url: str, tenant: uuid.UUID, other_tenant: uuid.UUID
) -> None:
    run_id = await _run(db, tenant)
    intruder = RunCheckpointStore(database_url, tenant_id=other_tenant, run_id=run_id)
    with pytest.raises(DspyAshError):
        await intruder.save("k", {"x": 1})
    with pytest.raises(DspyAshError):
        await intruder.load("k")
    await intruder.close()
