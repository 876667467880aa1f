"""The persistent side of the LM cache: a pluggable backend (a directory by default, a SQL table from the store)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class CacheBackend(ABC):
    """Stores JSON-able response dicts by key. Keys are already namespaced hashes; `namespace` is for bookkeeping
    (the store keeps it in a tenant column). Implementations must be safe to call from many tasks at once."""

    @abstractmethod
    async def get(self, key: str) -> dict[str, Any] | None:
        """The stored value, or None when absent or expired."""

    @abstractmethod
    async def put(
        self, key: str, value: dict[str, Any], *, ttl: float | None = None, namespace: str | None = None
    ) -> None:
        """Store a value; `ttl` in seconds (None: no expiry)."""

    @abstractmethod
    async def delete(self, key: str) -> None: ...

    @abstractmethod
    async def clear(self) -> None: ...

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (files, connections)."""
