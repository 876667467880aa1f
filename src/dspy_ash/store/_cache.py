"""The LM cache's persistent backend in the `lm_cache_entry` table: expiry, and one namespace per tenant.

Entries of one tenant are invisible to every other, even under the same key. An entry's expiry is the
absolute moment the cache fixed when it wrote it (`configure_cache(ttl=...)`); reads and
`purge_expired` compare it with `clock` (seconds since the epoch, `time.time` unless one is injected).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dspy_ash.lm._cache_backend import CacheBackend, CacheEntry
from dspy_ash.store._loop_local import LoopLocalDatabase
from dspy_ash.store._types import utcnow
from dspy_ash.store.models import LMCacheEntry


class SqlCacheBackend(CacheBackend):
    def __init__(
        self,
        database_url: str | None = None,
        *,
        tenant_id: uuid.UUID,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tenant_id = tenant_id
        self.clock = clock
        self._dbs = LoopLocalDatabase(database_url)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    async def get(self, key: str) -> CacheEntry | None:
        stmt = select(LMCacheEntry.value, LMCacheEntry.expires_at).where(
            LMCacheEntry.tenant_id == self.tenant_id,
            LMCacheEntry.key == key,
            or_(LMCacheEntry.expires_at.is_(None), LMCacheEntry.expires_at > self._now()),
        )
        async with self._dbs.get().transaction() as session:
            row = (await session.execute(stmt)).one_or_none()
        if row is None:
            return None
        value, expires_at = row
        return CacheEntry(value, None if expires_at is None else expires_at.timestamp())

    async def put(
        self,
        key: str,
        value: dict[str, Any],
        *,
        expires_at: float | None = None,
        namespace: str | None = None,
    ) -> None:
        now = utcnow()
        db = self._dbs.get()
        insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
        stmt = insert(LMCacheEntry).values(
            id=uuid.uuid4(),
            tenant_id=self.tenant_id,
            key=key,
            namespace=namespace,
            value=value,
            expires_at=None if expires_at is None else datetime.fromtimestamp(expires_at, UTC),
            created_at=now,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[LMCacheEntry.tenant_id, LMCacheEntry.key],
            set_={
                "value": stmt.excluded.value,
                "namespace": stmt.excluded.namespace,
                "expires_at": stmt.excluded.expires_at,
                "updated_at": stmt.excluded.updated_at,
            },
        )
        async with db.transaction() as session:
            await session.execute(stmt)

    async def delete(self, key: str) -> None:
        async with self._dbs.get().transaction() as session:
            await session.execute(
                delete(LMCacheEntry).where(LMCacheEntry.tenant_id == self.tenant_id, LMCacheEntry.key == key)
            )

    async def clear(self) -> None:
        """Forget this tenant's entries (only this tenant's)."""
        async with self._dbs.get().transaction() as session:
            await session.execute(delete(LMCacheEntry).where(LMCacheEntry.tenant_id == self.tenant_id))

    async def purge_expired(self) -> int:
        async with self._dbs.get().transaction() as session:
            result = await session.execute(
                delete(LMCacheEntry).where(
                    LMCacheEntry.tenant_id == self.tenant_id, LMCacheEntry.expires_at <= self._now()
                )
            )
            return result.rowcount  # type: ignore[attr-defined]

    async def close(self) -> None:
        await self._dbs.dispose()
