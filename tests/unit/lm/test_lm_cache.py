"""The response cache: keys, memory LRU bounds, disk persistence and expiry, single flight, copies."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from lm_fakes import FakeTime, ScriptedLM

from dspy_ash.lm._cache import Cache, CachedLM, cache_key, configure_cache, get_cache
from dspy_ash.lm._cache_backend import CacheBackend, CacheEntry
from dspy_ash.lm._disk_cache import DiskCacheBackend
from dspy_ash.lm._memory_cache import MemoryLRU
from dspy_ash.lm._types import LMRequest


def _req(**changes: object) -> LMRequest:
    base = LMRequest(
        model="openai/m", messages=[{"role": "user", "content": "hi"}], params={"temperature": 0.0}
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_key_is_stable_and_order_insensitive() -> None:
    a = _req(params={"temperature": 0.0, "max_tokens": 10})
    b = _req(params={"max_tokens": 10, "temperature": 0.0})
    assert cache_key(a) == cache_key(b)
    assert len(cache_key(a)) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"model": "openai/other"},
        {"messages": [{"role": "user", "content": "hello"}]},
        {"params": {"temperature": 0.7}},
        {"rollout_id": 1},
        {"namespace": "tenant-a"},
    ],
)
def test_key_changes_with_request_content(change: dict[str, object]) -> None:
    assert cache_key(_req(**change)) != cache_key(_req())


def test_key_depends_on_api_base() -> None:
    assert cache_key(_req(), "http://a/v1") != cache_key(_req(), "http://b/v1")


def test_key_accepts_pydantic_response_formats() -> None:
    import pydantic

    class Answer(pydantic.BaseModel):
        answer: str

    assert cache_key(_req(params={"response_format": Answer})) != cache_key(_req())


def test_memory_lru_bounded_by_entries(fake_time: FakeTime) -> None:
    lru = MemoryLRU(max_entries=3, max_bytes=10_000, clock=fake_time)
    for k in "abcd":
        lru.put(k, b"x", None)
    assert lru.get("a") is None
    assert [k for k in "bcd" if lru.get(k)] == ["b", "c", "d"]


def test_memory_lru_bounded_by_bytes_and_recency(fake_time: FakeTime) -> None:
    lru = MemoryLRU(max_entries=100, max_bytes=30, clock=fake_time)
    lru.put("a", b"a" * 10, None)
    lru.put("b", b"b" * 10, None)
    lru.put("c", b"c" * 10, None)
    assert lru.get("a") == b"a" * 10  # a is now the most recent
    lru.put("d", b"d" * 10, None)
    assert lru.get("b") is None
    assert lru.size_bytes == 30
    lru.put("huge", b"h" * 31, None)  # larger than the whole cache: not stored
    assert lru.get("huge") is None and len(lru) == 3


def test_memory_lru_expiry(fake_time: FakeTime) -> None:
    lru = MemoryLRU(10, 1000, fake_time)
    lru.put("k", b"v", fake_time.now + 5)
    assert lru.get("k") == b"v"
    fake_time.now += 5
    assert lru.get("k") is None
    assert lru.size_bytes == 0


async def test_disk_backend_round_trip_and_ttl(tmp_path: Path, fake_time: FakeTime) -> None:
    disk = DiskCacheBackend(tmp_path, clock=fake_time)
    await disk.put("ab" + "0" * 62, {"v": 1}, expires_at=fake_time.now + 10, namespace="t")
    assert await disk.get("ab" + "0" * 62) == CacheEntry({"v": 1}, 1010)
    assert disk.flush(timeout=5)
    assert list(tmp_path.rglob("*.json"))
    fake_time.now += 10
    assert await disk.get("ab" + "0" * 62) is None
    assert disk.flush(timeout=5)
    assert not list(tmp_path.rglob("*.json"))  # expired files are removed
    assert not list(tmp_path.rglob("*.tmp"))


async def test_disk_writes_are_behind_but_reads_see_them(tmp_path: Path) -> None:
    disk = DiskCacheBackend(tmp_path)
    keys = [f"{i:02x}" + "2" * 62 for i in range(200)]
    for k in keys:
        await disk.put(k, {"k": k})
    assert all([await disk.get(k) == CacheEntry({"k": k}) for k in keys])  # from the queue or the file
    await disk.delete(keys[0])
    assert disk.flush(timeout=5)
    assert len(list(tmp_path.rglob("*.json"))) == 199
    assert await disk.get(keys[0]) is None
    reopened = DiskCacheBackend(tmp_path)
    assert await reopened.get(keys[1]) == CacheEntry({"k": keys[1]})


async def test_disk_backend_treats_damaged_files_as_misses(tmp_path: Path) -> None:
    disk = DiskCacheBackend(tmp_path)
    key = "cd" + "1" * 62
    await disk.put(key, {"v": 1})
    assert disk.flush(timeout=5)
    next(tmp_path.rglob("*.json")).write_text("{not json")
    assert await disk.get(key) is None
    await disk.put(key, {"v": 2})
    assert await disk.get(key) == CacheEntry({"v": 2})
    await disk.clear()
    assert await disk.get(key) is None


async def test_hit_is_a_marked_copy_with_zero_usage() -> None:
    inner = ScriptedLM(["first"])
    lm = CachedLM(inner)
    miss = await lm.request(_req())
    assert not miss.cache_hit and miss.usage.total_tokens == 15
    hit = await lm.request(_req())
    assert hit.cache_hit and hit.usage.total_tokens == 0 and hit.cost == 0.0
    assert hit.choices[0].text == "first"
    hit.choices[0].text = "mutated"
    again = await lm.request(_req())
    assert again.choices[0].text == "first"
    assert len(inner.calls) == 1


async def test_call_level_cache_false_bypasses() -> None:
    inner = ScriptedLM()
    lm = CachedLM(inner)
    await lm.request(_req())
    await lm.request(_req(cache=False))
    assert len(inner.calls) == 2


async def test_rollout_id_and_namespace_miss() -> None:
    inner = ScriptedLM()
    lm = CachedLM(inner)
    for req in (
        _req(),
        _req(rollout_id=1),
        _req(rollout_id=2),
        _req(namespace="a"),
        _req(namespace="b"),
        _req(rollout_id=1),
    ):
        await lm.request(req)
    assert len(inner.calls) == 5


async def test_disk_hit_after_memory_reset_and_promotion(tmp_path: Path) -> None:
    cache = configure_cache(disk_cache_dir=tmp_path / "c")
    inner = ScriptedLM(["stored"])
    lm = CachedLM(inner)
    await lm.request(_req())
    cache.reset_memory_cache()
    hit = await lm.request(_req())
    assert hit.cache_hit and hit.choices[0].text == "stored"
    assert cache.memory is not None and len(cache.memory) == 1  # promoted back to memory
    assert len(inner.calls) == 1


async def test_ttl_expiry_in_both_levels(tmp_path: Path, fake_time: FakeTime) -> None:
    configure_cache(disk_cache_dir=tmp_path / "c", ttl=60, clock=fake_time)
    inner = ScriptedLM()
    lm = CachedLM(inner)
    await lm.request(_req())
    fake_time.now += 59
    await lm.request(_req())
    assert len(inner.calls) == 1
    fake_time.now += 1
    await lm.request(_req())
    assert len(inner.calls) == 2


async def test_memory_only_and_disabled_caches(tmp_path: Path) -> None:
    configure_cache(enable_disk_cache=False)
    assert get_cache().backend is None
    inner = ScriptedLM()
    await CachedLM(inner).request(_req())
    await CachedLM(inner).request(_req())
    assert len(inner.calls) == 1
    configure_cache(enable_disk_cache=False, enable_memory_cache=False)
    await CachedLM(inner).request(_req())
    assert len(inner.calls) == 2


def test_configure_cache_rejects_unknown_options() -> None:
    configure_cache(restrict_pickle=True, safe_types=[])  # DSPy's names are accepted
    with pytest.raises(TypeError):
        configure_cache(enable_disc_cache=False)


async def test_single_flight_shares_one_call() -> None:
    gate = asyncio.Event()
    inner = ScriptedLM(["shared"], gate=gate)
    lm = CachedLM(inner)
    tasks = [asyncio.create_task(lm.request(_req())) for _ in range(50)]
    await asyncio.sleep(0.01)
    gate.set()
    responses = await asyncio.gather(*tasks)
    assert len(inner.calls) == 1
    assert {r.choices[0].text for r in responses} == {"shared"}
    assert sum(not r.cache_hit for r in responses) == 1  # only the leader's usage counts


async def test_single_flight_shares_errors_and_does_not_cache_them() -> None:
    from dspy_ash.errors import LMServerError

    gate = asyncio.Event()
    inner = ScriptedLM([LMServerError("boom", status=500), "later"], gate=gate)
    lm = CachedLM(inner)
    tasks = [asyncio.create_task(lm.request(_req())) for _ in range(5)]
    await asyncio.sleep(0.01)
    gate.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, LMServerError) for r in results)
    assert (await lm.request(_req())).choices[0].text == "later"


async def test_follower_survives_a_cancelled_leader() -> None:
    gate = asyncio.Event()
    inner = ScriptedLM(["a", "b"], gate=gate)
    lm = CachedLM(inner)
    leader = asyncio.create_task(lm.request(_req()))
    await asyncio.sleep(0.01)
    follower = asyncio.create_task(lm.request(_req()))
    await asyncio.sleep(0.01)
    leader.cancel()
    await asyncio.sleep(0.01)
    gate.set()
    response = await follower
    assert response.choices[0].text == "a"  # the cancelled leader never got an answer
    assert len(inner.calls) == 2  # the follower led its own call after the leader went away


def test_cache_without_levels_is_disabled() -> None:
    assert not Cache.over(memory=None, backend=None).enabled


async def test_disk_backend_prunes_oldest_entries_over_its_size_limit(tmp_path: Path) -> None:
    import os

    disk = DiskCacheBackend(tmp_path, size_limit=10_000)
    for i in range(40):  # ~40 x 330 bytes: more than the limit
        key = f"{i:02d}" + "0" * 62
        await disk.put(key, {"text": "x" * 256})
        assert disk.flush(timeout=5)
        os.utime(disk._path(key), (i, i))  # written in key order
    assert disk.flush(timeout=5)
    total = sum(p.stat().st_size for p in tmp_path.rglob("*.json"))
    assert total <= 10_000
    assert await disk.get("39" + "0" * 62) is not None  # the newest survive
    assert await disk.get("00" + "0" * 62) is None  # the oldest went first


def test_configure_cache_passes_the_disk_limit(tmp_path: Path) -> None:
    cache = configure_cache(disk_cache_dir=tmp_path / "c", disk_size_limit_bytes=1234)
    assert isinstance(cache.backend, DiskCacheBackend) and cache.backend.size_limit == 1234


# -- expiry: an entry's absolute expiry is fixed when it is written, in every level ------------------


async def test_promoted_entry_keeps_its_original_expiry(tmp_path: Path, fake_time: FakeTime) -> None:
    cache = configure_cache(disk_cache_dir=tmp_path / "c", ttl=60, clock=fake_time)
    inner = ScriptedLM()
    lm = CachedLM(inner)
    await lm.request(_req())  # written at t=1000: expires at 1060 in both levels
    fake_time.now += 49
    cache.reset_memory_cache()
    assert (await lm.request(_req())).cache_hit  # t=1049: a disk hit, promoted to memory
    assert cache.memory is not None and len(cache.memory) == 1
    fake_time.now += 11
    await lm.request(_req())  # t=1060: expired in memory too, not at 1049 + 60
    assert len(inner.calls) == 2


@pytest.mark.parametrize("reader_ttl", [None, 3600])
async def test_the_writers_expiry_wins_over_the_readers_ttl(
    tmp_path: Path, fake_time: FakeTime, reader_ttl: float | None
) -> None:
    configure_cache(disk_cache_dir=tmp_path / "c", ttl=60, clock=fake_time)
    inner = ScriptedLM()
    await CachedLM(inner).request(_req())  # expires at 1060
    configure_cache(disk_cache_dir=tmp_path / "c", ttl=reader_ttl, clock=fake_time)  # a new process
    lm = CachedLM(inner)
    fake_time.now += 30
    assert (await lm.request(_req())).cache_hit  # promoted at t=1030
    fake_time.now += 30
    await lm.request(_req())
    assert len(inner.calls) == 2


async def test_an_entry_written_without_expiry_outlives_a_readers_ttl(
    tmp_path: Path, fake_time: FakeTime
) -> None:
    configure_cache(disk_cache_dir=tmp_path / "c", clock=fake_time)
    inner = ScriptedLM()
    await CachedLM(inner).request(_req())
    cache = configure_cache(disk_cache_dir=tmp_path / "c", ttl=60, clock=fake_time)
    lm = CachedLM(inner)
    assert (await lm.request(_req())).cache_hit
    fake_time.now += 10_000
    assert (await lm.request(_req())).cache_hit  # from memory
    cache.reset_memory_cache()
    assert (await lm.request(_req())).cache_hit  # and from disk
    assert len(inner.calls) == 1


class _KeepEverything(CacheBackend):
    """A backend that never drops expired entries (the cache must not rely on every backend doing so)."""

    def __init__(self) -> None:
        self.entries: dict[str, CacheEntry] = {}

    async def get(self, key: str) -> CacheEntry | None:
        return self.entries.get(key)

    async def put(
        self,
        key: str,
        value: dict[str, Any],
        *,
        expires_at: float | None = None,
        namespace: str | None = None,
    ) -> None:
        self.entries[key] = CacheEntry(value, expires_at)

    async def delete(self, key: str) -> None:
        self.entries.pop(key, None)

    async def clear(self) -> None:
        self.entries.clear()


async def test_expired_backend_entries_are_neither_served_nor_promoted(fake_time: FakeTime) -> None:
    backend = _KeepEverything()
    memory = MemoryLRU(10, 10_000, fake_time)
    cache = Cache.over(memory=memory, backend=backend, ttl=60, clock=fake_time)
    inner = ScriptedLM(["old", "new"])
    lm = CachedLM(inner, cache=cache)
    await lm.request(_req())
    assert next(iter(backend.entries.values())).expires_at == 1060
    memory.clear()
    fake_time.now += 60
    assert (await lm.request(_req())).choices[0].text == "new"
    assert len(inner.calls) == 2


def test_memory_lru_replacing_a_key_with_an_oversized_value_drops_the_old_one(fake_time: FakeTime) -> None:
    lru = MemoryLRU(max_entries=10, max_bytes=10, clock=fake_time)
    lru.put("k", b"old", None)
    lru.put("k", b"x" * 11, None)  # too large to keep: the stale value must not stay behind
    assert lru.get("k") is None
    assert lru.size_bytes == 0 and len(lru) == 0


def test_memory_lru_keeps_each_entrys_expiry_through_evictions(fake_time: FakeTime) -> None:
    lru = MemoryLRU(max_entries=2, max_bytes=1000, clock=fake_time)
    lru.put("a", b"a", fake_time.now + 10)
    lru.put("b", b"b", fake_time.now + 100)
    assert lru.get("a") == b"a"  # a is now the most recent
    lru.put("c", b"c", None)  # the bound rolls over: b (least recent) goes
    assert lru.get("b") is None and lru.get("c") == b"c"
    fake_time.now += 10
    assert lru.get("a") is None  # a kept its own expiry
    assert lru.get("c") == b"c" and len(lru) == 1


async def test_disk_expiry_does_not_drop_a_newer_write_made_meanwhile(tmp_path: Path) -> None:
    """A reader that finds an expired record must not delete a fresh one written by another thread
    between its read and its expiry check."""
    import threading

    key = "ef" + "3" * 62
    now = [1000.0]
    rewrite_once: list[bool] = []

    def clock() -> float:
        if not rewrite_once:  # another thread writes a fresh entry right after the stale one was read
            rewrite_once.append(True)
            thread = threading.Thread(
                target=lambda: asyncio.run(disk.put(key, {"v": "fresh"}, expires_at=now[0] + 100))
            )
            thread.start()
            thread.join()
        return now[0]

    disk = DiskCacheBackend(tmp_path, clock=clock)
    rewrite_once.append(True)  # no rewrite while the stale entry is written
    await disk.put(key, {"v": "stale"}, expires_at=now[0] - 1)
    assert disk.flush(timeout=5)
    rewrite_once.clear()
    assert await disk.get(key) is None  # the stale record it read has expired
    assert disk.flush(timeout=5)
    entry = await disk.get(key)
    assert entry is not None and entry.value == {"v": "fresh"}


async def test_a_cancelled_waiter_does_not_cancel_the_shared_call() -> None:
    gate = asyncio.Event()
    inner = ScriptedLM(["shared"], gate=gate)
    lm = CachedLM(inner)
    leader = asyncio.create_task(lm.request(_req()))
    await asyncio.sleep(0.01)
    quitter = asyncio.create_task(lm.request(_req()))
    stayer = asyncio.create_task(lm.request(_req()))
    await asyncio.sleep(0.01)
    quitter.cancel()
    await asyncio.sleep(0.01)
    gate.set()
    assert (await leader).choices[0].text == "shared"
    assert (await stayer).choices[0].text == "shared"
    assert quitter.cancelled() and len(inner.calls) == 1


async def test_an_error_after_a_waiter_left_is_not_logged_as_unretrieved(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import gc

    from dspy_ash.errors import LMServerError

    gate = asyncio.Event()
    inner = ScriptedLM([LMServerError("boom", status=500)], gate=gate)
    lm = CachedLM(inner)
    leader = asyncio.create_task(lm.request(_req()))
    await asyncio.sleep(0.01)
    quitter = asyncio.create_task(lm.request(_req()))
    await asyncio.sleep(0.01)
    quitter.cancel()
    await asyncio.sleep(0.01)
    gate.set()
    with pytest.raises(LMServerError) as failure:
        await leader
    await asyncio.sleep(0.01)  # the error reaches the abandoned waiter's future
    del (
        leader,
        quitter,
        failure,
    )  # nothing of ours keeps the futures alive: they are collected (and may log) now
    gc.collect()
    assert "never retrieved" not in caplog.text
