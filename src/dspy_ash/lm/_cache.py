"""The LM response cache: a memory LRU in front of a persistent backend, shared by every LM of the process.

- Key: sha256 of the request's content (model, messages, sampling parameters, api_base, rollout_id,
  namespace). Sync and async calls build the same request, so they share entries. Keys never see
  credentials: the API key lives in the provider's endpoint, not in the request.
- A hit is a fresh copy marked `cache_hit=True` with zero usage and zero cost (nothing was spent).
- Concurrent identical requests share one provider call (single flight), across tasks, threads and loops.
- An entry's expiry is absolute and fixed when it is written; every level keeps it.
- `configure_cache(...)` swaps the process-wide cache (DSPy's names); it is built lazily on first use.
- Embeddings are cached per text (model, text, parameters, api_base, namespace), so a text embedded once
  is a hit in any later batch; the texts a batch misses go to the provider in one request (no single
  flight across concurrent batches: an embedding is cheap next to a chat completion).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import copy
import dataclasses
import hashlib
import inspect
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import pydantic

from dspy_ash._sync import loop_is_held, run_sync
from dspy_ash.errors import (
    ConfigurationError,
    InvalidInputTypeError,
    LMResponseError,
    SavedStateError,
    UnknownSettingError,
)
from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._cache_backend import CacheBackend, CacheEntry
from dspy_ash.lm._cache_values import decode, encode
from dspy_ash.lm._disk_cache import DiskCacheBackend
from dspy_ash.lm._memory_cache import MemoryLRU
from dspy_ash.lm._stream import OnDelta
from dspy_ash.lm._types import Choice, EmbeddingRequest, EmbeddingResponse, LMRequest, LMResponse, Usage
from dspy_ash.lm._wire import json_default
from dspy_ash.settings import cache_dir_override, data_dir

logger = logging.getLogger("dspy_ash.lm")

DEFAULT_MEMORY_MAX_ENTRIES = 1_000_000
DEFAULT_MEMORY_MAX_BYTES = 256 * 1024 * 1024
DEFAULT_DISK_SIZE_LIMIT = 30 * 1024**3  # DSPy's default for the process's cache
DISK_CACHE_LIMIT = DEFAULT_DISK_SIZE_LIMIT  # DSPy's name (`dspy.clients.DISK_CACHE_LIMIT`)
DSPY_CACHE_CLASS_DISK_LIMIT = 10 * 1024**2  # DSPy's default for a `Cache(...)` built by hand
DSPY_VALUE = "dspy_value"  # the entry key of a value stored through DSPy's `put(request, value)`
MEMORY_FILE_FORMAT = "dspy-ash memory cache v1"
KEY_VERSION = 1  # bump when the key's content changes, so old entries are not misread
STALL_CHECK_SECONDS = 0.5  # how often a waiter checks that the call it waits for is still going


def cache_key(req: LMRequest, api_base: str | None = None) -> str:
    payload = {
        "v": KEY_VERSION,
        "model": req.model,
        "model_type": req.model_type,
        "messages": req.messages,
        "params": req.params,
        "api_base": api_base,
        "rollout_id": req.rollout_id,
        "namespace": req.namespace,
    }
    blob = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=json_default
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def embedding_cache_key(req: EmbeddingRequest, text: str, api_base: str | None = None) -> str:
    payload = {
        "v": KEY_VERSION,
        "kind": "embedding",  # never equal to a chat request's key
        "model": req.model,
        "input": text,
        "params": req.params,
        "api_base": api_base,
        "namespace": req.namespace,
    }
    blob = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=json_default
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _transform_value(value: Any) -> Any:
    """A request value in the JSON form DSPy hashes: models as data, model classes as their schema,
    callables by source."""
    if isinstance(value, type) and issubclass(value, pydantic.BaseModel):
        return value.model_json_schema()
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    if callable(value):
        try:
            return f"<callable_source:{inspect.getsource(value)}>"
        except (TypeError, OSError):
            return f"<callable:{getattr(value, '__name__', 'lambda')}>"
    if isinstance(value, dict):
        return {k: _transform_value(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    return value


def _json_plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)  # as orjson, which DSPy hashes with, writes a dataclass
    raise TypeError(f"a request value of type {type(value).__qualname__} has no JSON form")


def request_key(request: dict[str, Any], ignored: list[str] | None = None) -> str:
    """DSPy's `Cache.cache_key`: sha256 of the request's sorted, compact JSON, leaving out `ignored` args.
    Raises TypeError for a value with no JSON form."""
    skip = set(ignored or ())
    params = {k: _transform_value(v) for k, v in request.items() if k not in skip}
    blob = json.dumps(params, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_plain)
    return hashlib.sha256(blob.encode()).hexdigest()


def _any_class(cls: type[Any]) -> bool:
    return True


def _mark_hit(value: Any) -> Any:
    if hasattr(value, "usage"):  # DSPy's rule: a hit spent nothing
        value.usage = {}
        # strict models (extra="forbid") refuse unknown attributes through __setattr__
        object.__setattr__(value, "cache_hit", True)
    return value


def response_to_dict(response: LMResponse) -> dict[str, Any]:
    return {
        "choices": [
            {
                "text": c.text,
                "tool_calls": c.tool_calls,
                "finish_reason": c.finish_reason,
                "logprobs": c.logprobs,
                "reasoning_content": c.reasoning_content,
                "citations": c.citations,
            }
            for c in response.choices
        ],
        "usage": response.usage.as_dict(),
        "model": response.model,
        "request_id": response.request_id,
        "raw": response.raw,
    }


def response_from_dict(data: dict[str, Any]) -> LMResponse:
    """A cached response as a hit: usage and cost are zero because this call spent nothing."""
    return LMResponse(
        choices=[Choice(**c) for c in data["choices"]],
        usage=Usage(),
        model=data.get("model"),
        cost=0.0,
        cache_hit=True,
        request_id=data.get("request_id"),
        raw=data.get("raw"),
    )


class _Flight:
    """One provider call in progress for a key, led on one event loop and awaited from any loop of any thread."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop  # the leader's
        self.future: concurrent.futures.Future[LMResponse] = concurrent.futures.Future()

    def stalled(self) -> bool:
        """The leader's loop stopped turning (a sync call returned before it, or the loop closed), or is held
        by sync code waiting on a worker thread (maybe for this very key): nothing would finish the call
        meanwhile, so a waiter must not wait for it."""
        return not self.loop.is_running() or loop_is_held(self.loop)

    async def wait(self) -> LMResponse | None:
        """The leader's response, or None when it was cancelled or stalled (then the caller tries again).
        The leader's error is raised here too: one failing request is not repeated by every waiter (the
        leader's call already includes the retries)."""
        waiter = asyncio.wrap_future(self.future)  # never cancelled by us: that would cancel the flight
        # on the leader's own loop the leader cannot stall while we wait: no need to look
        timeout = None if asyncio.get_running_loop() is self.loop else STALL_CHECK_SECONDS
        try:
            while True:
                done, _ = await asyncio.wait((waiter,), timeout=timeout)
                if done:
                    return None if waiter.cancelled() else waiter.result()
                if self.stalled():
                    return None
        finally:
            if (
                not waiter.done()
            ):  # we stopped waiting (cancelled, stalled): an error arriving later is nobody's
                waiter.add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[LMResponse]) -> None:
    if not future.cancelled():
        future.exception()  # marks it retrieved: no "exception was never retrieved" log


class Cache:
    """DSPy's `dspy.clients.Cache`, over dspy-ash's tiers: a memory LRU (bounded by entries and bytes) in front
    of a persistent backend (a directory by default), with optional expiry and single flight.

    The LM layer stores its replies here by request hash (`get_or_call`); DSPy's request-dict API (`get`,
    `put`, `cache_key`, `request_cache`) stores any JSON-able value, dataclass or pydantic model in the same
    tiers, as JSON (`cache_values`): never a pickle, so reading a cache directory cannot run stored code.
    `restrict_pickle=True` narrows what the persistent tier may rebuild to `safe_types` (DSPy's names).

    `ttl` fixes each entry's absolute expiry when it is written (on `clock`); every level keeps that
    expiry, also when an entry read from the backend is promoted to memory, and a cache configured later
    with another `ttl` serves an existing entry until the expiry it was written with.

    Single flight holds across the tasks, threads and event loops of the process: the in-flight table is
    shared and locked, and a waiter on another loop awaits the leader's `concurrent.futures.Future`.
    """

    def __init__(
        self,
        enable_disk_cache: bool = True,
        enable_memory_cache: bool = True,
        disk_cache_dir: str | os.PathLike[str] | None = None,
        disk_size_limit_bytes: int | None = DSPY_CACHE_CLASS_DISK_LIMIT,
        memory_max_entries: float | None = DEFAULT_MEMORY_MAX_ENTRIES,
        restrict_pickle: bool = False,
        safe_types: list[type[Any]] | None = None,
        *,
        memory_max_bytes: int = DEFAULT_MEMORY_MAX_BYTES,
        ttl: float | None = None,
        backend: CacheBackend | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        memory: MemoryLRU | None = None
        if enable_memory_cache:
            if memory_max_entries is None:
                raise ConfigurationError(
                    "`memory_max_entries` cannot be None. Use `math.inf` if you need an unbounded cache."
                )
            if memory_max_entries <= 0:
                raise ConfigurationError(
                    f"`memory_max_entries` must be a positive number, but received {memory_max_entries}"
                )
            memory = MemoryLRU(memory_max_entries, memory_max_bytes, clock)
        persistent = backend
        if persistent is None and enable_disk_cache:
            directory = Path(disk_cache_dir) if disk_cache_dir else default_cache_dir()
            try:
                persistent = DiskCacheBackend(directory, clock=clock, size_limit=disk_size_limit_bytes)
            except OSError as exc:  # read-only file system: keep going with memory only, as DSPy does
                logger.warning("LM disk cache unavailable at %s (%s); using memory only", directory, exc)
        self._setup(memory, persistent, ttl, clock)
        self.disk_cache_dir = os.fspath(disk_cache_dir) if disk_cache_dir is not None else None
        for t in safe_types or []:
            if not isinstance(t, type):  # pyright: ignore[reportUnnecessaryIsInstance] - user input
                raise InvalidInputTypeError(f"safe_types entries must be types, got {t!r}")
        self.restrict_pickle = restrict_pickle
        self.safe_types: frozenset[type[Any]] = frozenset(safe_types or ())

    @classmethod
    def over(
        cls,
        *,
        memory: MemoryLRU | None,
        backend: CacheBackend | None,
        ttl: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> Cache:
        """A cache over tiers built by the caller (a store's backend, a memory LRU with a fake clock)."""
        cache = cls.__new__(cls)
        cache._setup(memory, backend, ttl, clock)
        cache.disk_cache_dir = None
        cache.restrict_pickle = False
        cache.safe_types = frozenset()
        return cache

    def _setup(
        self,
        memory: MemoryLRU | None,
        backend: CacheBackend | None,
        ttl: float | None,
        clock: Callable[[], float],
    ) -> None:
        self.memory = memory
        self.backend = backend
        self.ttl = ttl
        self.clock = clock
        self._inflight: dict[str, _Flight] = {}
        self._inflight_lock = threading.Lock()

    # -- DSPy's attributes --------------------------------------------------------------------------
    @property
    def enable_memory_cache(self) -> bool:
        return self.memory is not None

    @property
    def enable_disk_cache(self) -> bool:
        return self.backend is not None

    @property
    def memory_cache(self) -> MemoryLRU | dict[str, Any]:
        """The memory tier (`key in`, `len`), or `{}` when it is off, as DSPy's."""
        return self.memory if self.memory is not None else {}

    @property
    def disk_cache(self) -> CacheBackend | dict[str, Any]:
        """The persistent tier, or `{}` when it is off, as DSPy's."""
        return self.backend if self.backend is not None else {}

    def __contains__(self, key: str) -> bool:
        return (self.memory is not None and self.memory.get(key) is not None) or (
            self.backend is not None and self._read_backend(key) is not None
        )

    @property
    def enabled(self) -> bool:
        return self.memory is not None or self.backend is not None

    async def get_response(self, key: str) -> LMResponse | None:
        data = await self.get_data(key)
        return None if data is None else response_from_dict(data)

    async def put_response(self, key: str, response: LMResponse, namespace: str | None = None) -> None:
        await self.put_data(key, response_to_dict(response), namespace)

    async def get_data(self, key: str) -> dict[str, Any] | None:
        """The stored JSON value of `key` (an LM response or an embedding), or None."""
        if self.memory is not None:
            blob = self.memory.get(key)
            if blob is not None:
                value: dict[str, Any] = json.loads(blob)
                return value
        if self.backend is not None:
            entry = await self.backend.get(key)
            if entry is None or (entry.expires_at is not None and self.clock() >= entry.expires_at):
                return None  # an expired entry is neither served nor promoted, whatever the backend's clock
            if self.memory is not None:  # promoted with the expiry it was written with
                self.memory.put(key, json.dumps(entry.value).encode(), entry.expires_at)
            return entry.value
        return None

    async def put_data(self, key: str, data: dict[str, Any], namespace: str | None = None) -> None:
        expires_at = None if self.ttl is None else self.clock() + self.ttl  # once, for every level
        if self.memory is not None:
            self.memory.put(key, json.dumps(data).encode(), expires_at)
        if self.backend is not None:
            await self.backend.put(key, data, expires_at=expires_at, namespace=namespace)

    async def get_or_call(
        self, key: str, namespace: str | None, call: Callable[[], Awaitable[LMResponse]]
    ) -> LMResponse:
        """The cached response, or the result of `call()`, shared by every concurrent caller of the same key."""
        while True:
            hit = await self.get_response(key)
            if hit is not None:
                return hit
            with self._inflight_lock:
                flight = self._inflight.get(key)
                lead = flight is None or flight.stalled()
                if lead:
                    flight = self._inflight[key] = _Flight(asyncio.get_running_loop())
            assert flight is not None
            if lead:
                return await self._lead(key, namespace, call, flight)
            response = await flight.wait()
            if response is not None:
                return response_from_dict(response_to_dict(response))
            # the leader was cancelled or stalled: try again (and maybe lead)

    async def _lead(
        self,
        key: str,
        namespace: str | None,
        call: Callable[[], Awaitable[LMResponse]],
        flight: _Flight,
    ) -> LMResponse:
        try:
            # a leader that finished between our miss and our taking the flight has stored its answer
            response = await self.get_response(key)
            if response is None:
                response = await call()
                await self.put_response(key, response, namespace)
        except Exception as exc:
            flight.future.set_exception(exc)
            raise
        except BaseException:  # cancelled (or the process is stopping): the waiters try again themselves
            flight.future.cancel()
            raise
        else:
            flight.future.set_result(response)
        finally:
            with self._inflight_lock:
                if self._inflight.get(key) is flight:
                    del self._inflight[key]
        return response

    # -- DSPy's request-dict API (sync) ------------------------------------------------------------
    def cache_key(self, request: dict[str, Any], ignored_args_for_cache_key: list[str] | None = None) -> str:
        """sha256 of the request's JSON (keys sorted; pydantic models, classes and callables as DSPy's)."""
        return request_key(request, ignored_args_for_cache_key)

    def get(self, request: dict[str, Any], ignored_args_for_cache_key: list[str] | None = None) -> Any:
        """The value `put` stored for `request`, marked as a hit (`usage` cleared), or None."""
        if not self.enabled:
            return None
        try:
            key = self.cache_key(request, ignored_args_for_cache_key)
        except Exception:  # as DSPy: a request that cannot be hashed is a miss
            logger.debug("Failed to generate cache key for request: %s", request)
            return None
        if self.memory is not None:
            blob = self.memory.get(key)
            if blob is not None:  # what this process put (or loaded on purpose): any imported class
                return self._value_of(json.loads(blob), key, _any_class)
        entry = self._read_backend(key) if self.backend is not None else None
        if entry is None:
            return None
        value = self._value_of(entry.value, key, self._allowed_from_disk)
        if value is not None and self.memory is not None:
            self.memory.put(key, json.dumps(entry.value).encode(), entry.expires_at)
        return value

    def put(
        self,
        request: dict[str, Any],
        value: Any,
        ignored_args_for_cache_key: list[str] | None = None,
        enable_memory_cache: bool = True,
    ) -> None:
        """Store `value` for `request`. A value with no JSON form (see `cache_values`) is not cached."""
        to_memory = self.memory is not None and enable_memory_cache
        if not to_memory and self.backend is None:
            return
        try:
            key = self.cache_key(request, ignored_args_for_cache_key)
            data = {DSPY_VALUE: encode(value)}
        except Exception as exc:
            logger.debug("Not caching %r for request %s: %s", value, request, exc)
            return
        expires_at = None if self.ttl is None else self.clock() + self.ttl
        if to_memory and self.memory is not None:
            self.memory.put(key, json.dumps(data).encode(), expires_at)
        if self.backend is not None:
            self.backend.put_now(key, data, expires_at=expires_at)

    def _value_of(self, data: dict[str, Any], key: str, allow: Callable[[type[Any]], bool]) -> Any:
        if DSPY_VALUE not in data:  # an LM reply stored by `get_or_call`, not a DSPy value
            return None
        try:
            value = decode(data[DSPY_VALUE], allow)
        except (
            Exception
        ) as exc:  # rejected, malformed, too deep, or the class's own constructor failed: a miss
            logger.debug("Dropping cache entry %s: %s", key, exc)
            if self.memory is not None:
                self.memory.delete(key)
            if self.backend is not None:
                run_sync(self.backend.delete(key))
            return None
        return _mark_hit(value)

    def _allowed_from_disk(self, cls: type[Any]) -> bool:
        return not self.restrict_pickle or cls in self.safe_types

    def _read_backend(self, key: str) -> CacheEntry | None:
        assert self.backend is not None
        entry = self.backend.get_now(key)
        if entry is None or (entry.expires_at is not None and self.clock() >= entry.expires_at):
            return None
        return entry

    def _prepare_cached_response(self, response: Any) -> Any:
        """A deep copy of `response` marked as a cache hit, as DSPy's (nothing was spent: `usage` is `{}`)."""
        return _mark_hit(copy.deepcopy(response))

    def save_memory_cache(self, filepath: str | os.PathLike[str]) -> None:
        """Write the memory tier to `filepath` as JSON (DSPy writes a pickle)."""
        if self.memory is None:
            return
        entries = [[key, json.loads(blob), expires_at] for key, blob, expires_at in self.memory.items()]
        Path(filepath).write_text(json.dumps({"format": MEMORY_FILE_FORMAT, "entries": entries}))

    def load_memory_cache(self, filepath: str | os.PathLike[str], allow_pickle: bool = False) -> None:
        """Replace the memory tier with a file written by `save_memory_cache`.

        As in DSPy the caller must vouch for the file with `allow_pickle=True`: entries in memory are
        trusted (they may rebuild any imported dataclass or model). The file is JSON and is never
        unpickled; a pickle written by DSPy is refused.
        """
        if not allow_pickle:
            raise ConfigurationError(
                "Loading a memory cache file trusts its contents. Set `allow_pickle=True` to load it if it is "
                "from a trusted source (dspy-ash reads it as JSON and never unpickles it)."
            )
        if self.memory is None:
            return
        raw = Path(filepath).read_bytes()
        try:
            saved = json.loads(raw)
            entries = saved["entries"] if saved.get("format") == MEMORY_FILE_FORMAT else None
        except (ValueError, AttributeError, TypeError):
            entries = None
        if not isinstance(entries, list):
            raise SavedStateError(
                f"{os.fspath(filepath)} is not a memory cache saved by dspy-ash (a pickle from DSPy is never loaded)"
            )
        self.memory.clear()
        for key, value, expires_at in entries:  # pyright: ignore[reportUnknownVariableType]
            self.memory.put(str(key), json.dumps(value).encode(), expires_at)  # pyright: ignore[reportUnknownArgumentType]

    def reset_memory_cache(self) -> None:
        if self.memory is not None:
            self.memory.clear()

    async def clear(self) -> None:
        self.reset_memory_cache()
        if self.backend is not None:
            await self.backend.clear()


_cache: Cache | None = None
# `dspy.cache = X` (DSPy code assigns it, `mock.patch("dspy.cache", X)` too): served before `_cache` until
# deleted or until `configure_cache` replaces both, as DSPy's `dspy.cache` attribute would be.
_assigned: Cache | None = None


def default_cache_dir() -> Path:
    """DSPY_CACHEDIR when set (DSPy's variable), else dspy-ash's data directory."""
    explicit = cache_dir_override()
    return Path(explicit) if explicit else data_dir() / "lm_cache"


def build_cache(
    enable_disk_cache: bool = True,
    enable_memory_cache: bool = True,
    disk_cache_dir: str | os.PathLike[str] | None = None,
    memory_max_entries: int = DEFAULT_MEMORY_MAX_ENTRIES,
    memory_max_bytes: int = DEFAULT_MEMORY_MAX_BYTES,
    ttl: float | None = None,
    backend: CacheBackend | None = None,
    clock: Callable[[], float] = time.time,
    disk_size_limit_bytes: int | None = DEFAULT_DISK_SIZE_LIMIT,
    restrict_pickle: bool = False,
    safe_types: list[type[Any]] | None = None,
) -> Cache:
    """A new cache (memory LRU in front of `backend`, else a disk directory), not installed anywhere:
    `configure_cache` makes one the process's, `cache_scope` makes one the current context's."""
    return Cache(
        enable_disk_cache,
        enable_memory_cache,
        disk_cache_dir,
        disk_size_limit_bytes,
        memory_max_entries,
        restrict_pickle,
        safe_types,
        memory_max_bytes=memory_max_bytes,
        ttl=ttl,
        backend=backend,
        clock=clock,
    )


def configure_cache(
    enable_disk_cache: bool | None = True,
    enable_memory_cache: bool | None = True,
    disk_cache_dir: str | os.PathLike[str] | None = None,
    disk_size_limit_bytes: int | None = DEFAULT_DISK_SIZE_LIMIT,
    memory_max_entries: int = DEFAULT_MEMORY_MAX_ENTRIES,
    restrict_pickle: bool = False,
    safe_types: list[type[Any]] | None = None,
    *,
    memory_max_bytes: int = DEFAULT_MEMORY_MAX_BYTES,
    ttl: float | None = None,
    backend: CacheBackend | None = None,
    clock: Callable[[], float] = time.time,
    **unknown: Any,
) -> Cache:
    """Replace the process-wide LM cache: DSPy's arguments, in DSPy's order, then dspy-ash's (`ttl`; a
    `backend` such as the store's SQL table in place of the disk directory). Entries are JSON, never
    pickles; `restrict_pickle`/`safe_types` limit which classes the persistent tier rebuilds."""
    if unknown:
        raise UnknownSettingError(
            f"configure_cache() got unexpected arguments: {sorted(unknown)}", name=sorted(unknown)[0]
        )
    global _cache, _assigned
    if _cache is not None and isinstance(_cache.backend, DiskCacheBackend):
        _cache.backend.flush(timeout=10)  # what the old cache accepted is on disk for the new one
    _cache = build_cache(
        bool(enable_disk_cache),
        bool(enable_memory_cache),
        disk_cache_dir,
        memory_max_entries,
        memory_max_bytes,
        ttl,
        backend,
        clock,
        disk_size_limit_bytes,
        restrict_pickle,
        safe_types,
    )
    _assigned = None
    return _cache


def _get_dspy_cache() -> Cache:  # pyright: ignore[reportUnusedFunction] - DSPy's name, via dspy.clients
    """DSPy's default process cache, built anew (DSPy's tests rebuild it after changing DSPY_CACHEDIR)."""
    return build_cache()


def assign_cache(cache: Cache | None) -> None:
    """`dspy.cache = cache` (None: `del dspy.cache`, back to the configured one)."""
    global _assigned
    if cache is not None and not isinstance(cache, Cache):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidInputTypeError(f"dspy.cache must be a dspy.clients.Cache, got {type(cache).__name__}")
    _assigned = cache


# A cache for the current context only (a tenant's, in a server), in front of the process-wide one.
_scoped_cache: ContextVar[Cache | None] = ContextVar("dspy_ash_scoped_cache", default=None)


@contextlib.contextmanager
def cache_scope(cache: Cache) -> Generator[Cache, None, None]:
    """`with cache_scope(build_cache(backend=...)):` LM calls in this context (and the tasks and worker
    threads it starts) read and fill `cache` instead of the process-wide one, which stays as it was."""
    token = _scoped_cache.set(cache)
    try:
        yield cache
    finally:
        _scoped_cache.reset(token)


def get_cache() -> Cache:
    """The current context's cache (`cache_scope`), else the process-wide one (`configure_cache`)."""
    scoped = _scoped_cache.get()
    if scoped is not None:
        return scoped
    if _assigned is not None:
        return _assigned
    return _cache if _cache is not None else configure_cache()


class CachedLM(BaseLM):
    """Serves repeated requests from the process cache (or the one given) and stores new replies."""

    def __init__(self, inner: BaseLM, *, api_base: str | None = None, cache: Cache | None = None) -> None:
        super().__init__(inner.model, cache=True, num_retries=0)
        self.inner = inner
        self.api_base = api_base
        self._cache = cache

    async def request(self, req: LMRequest) -> LMResponse:
        cache = self._cache or get_cache()
        if not req.cache or not cache.enabled:
            return await self.inner.request(req)
        return await cache.get_or_call(
            cache_key(req, self.api_base), req.namespace, lambda: self.inner.request(req)
        )

    async def embed(self, req: EmbeddingRequest) -> EmbeddingResponse:
        cache = self._cache or get_cache()
        if not req.cache or not cache.enabled:
            return await self.inner.embed(req)
        keys = [embedding_cache_key(req, text, self.api_base) for text in req.inputs]
        found = [await cache.get_data(key) for key in keys]
        missing = [i for i, data in enumerate(found) if data is None]
        if not missing:
            return EmbeddingResponse(
                vectors=[data["vector"] for data in found if data is not None],
                model=next(data.get("model") for data in found if data is not None),
                cost=0.0,
                cache_hit=True,
            )
        response = await self.inner.embed(dataclasses.replace(req, inputs=[req.inputs[i] for i in missing]))
        if len(response.vectors) != len(missing):
            raise LMResponseError(
                f"The provider returned {len(response.vectors)} vectors for {len(missing)} inputs",
                model=req.model,
            )
        vectors: list[list[float] | None] = [None if data is None else data["vector"] for data in found]
        for i, vector in zip(missing, response.vectors, strict=True):
            vectors[i] = vector
            await cache.put_data(keys[i], {"vector": vector, "model": response.model}, req.namespace)
        response.vectors = [v for v in vectors if v is not None]
        return response

    def stream(self, req: LMRequest) -> AsyncIterator[str]:
        return self.inner.stream(
            req
        )  # streamed replies are not cached: the caller consumes them as they come

    async def request_streaming(self, req: LMRequest, on_delta: OnDelta) -> LMResponse:
        """A hit is answered whole, with no deltas (as DSPy's cache answers a streamed call); a miss
        streams and is stored."""
        cache = self._cache or get_cache()
        if not req.cache or not cache.enabled:
            return await self.inner.request_streaming(req, on_delta)
        return await cache.get_or_call(
            cache_key(req, self.api_base), req.namespace, lambda: self.inner.request_streaming(req, on_delta)
        )
