"""The persistent side of the LM cache: a pluggable backend (a directory by default, a SQL table from the store)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from dspy_ash._sync import run_sync


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A stored response and the moment it stops being served (seconds since the epoch; None: never).

    The expiry is absolute and fixed when the entry is written, so every level that holds a copy of the
    entry (memory, disk, the store) lets it go at the same moment, whatever `ttl` a later reader has.
    """

    value: dict[str, Any]
    expires_at: float | None = None


class CacheBackend(ABC):
    """Stores JSON-able response dicts by key. Keys are already namespaced hashes; `namespace` is for bookkeeping
    (the store keeps it in a tenant column). Implementations must be safe to call from many tasks, threads
    and event loops at once."""

    @abstractmethod
    async def get(self, key: str) -> CacheEntry | None:
        """The stored entry with its expiry, or None when absent or expired."""

    @abstractmethod
    async def put(
        self,
        key: str,
        value: dict[str, Any],
        *,
        expires_at: float | None = None,
        namespace: str | None = None,
    ) -> None:
        """Store a value until `expires_at` (seconds since the epoch, as the cache's clock counts; None: no expiry)."""

    @abstractmethod
    async def delete(self, key: str) -> None: ...

    @abstractmethod
    async def clear(self) -> None: ...

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (files, connections)."""

    # DSPy's `Cache.get/put` are sync; a backend that can answer without a loop overrides these.
    def get_now(self, key: str) -> CacheEntry | None:
        return run_sync(self.get(key))

    def put_now(
        self,
        key: str,
        value: dict[str, Any],
        *,
        expires_at: float | None = None,
        namespace: str | None = None,
    ) -> None:
        run_sync(self.put(key, value, expires_at=expires_at, namespace=namespace))
