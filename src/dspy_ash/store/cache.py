"""The LM cache's persistent backend in the `lm_cache_entry` table: TTL, and one namespace per tenant.

Entries of one tenant are invisible to every other, even under the same key.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from dspy_ash.lm.cache_backend import CacheBackend
from dspy_ash.store._types import utcnow
from dspy_ash.store.loop_local import LoopLocalDatabase
from dspy_ash.store.models import LMCacheEntry


class SqlCacheBackend(CacheBackend):
    def __init__(
        self, database_url: str | None = None, *, tenant_id: uuid.UUID, default_ttl: float | None = None
    ) -> None:
        self.tenant_id = tenant_id
        self.default_ttl = default_ttl
        self._dbs = LoopLocalDatabase(database_url)

    async def get(self, key: str) -> dict[str, Any] | None:
        stmt = select(LMCacheEntry.value).where(
            LMCacheEntry.tenant_id == self.tenant_id,
            LMCacheEntry.key == key,
            or_(LMCacheEntry.expires_at.is_(None), LMCacheEntry.expires_at > utcnow()),
        )
        async with self._dbs.get().transaction() as session:
            return (await session.execute(stmt)).scalar_one_or_none()

    async def put(
        self, key: str, value: dict[str, Any], *, ttl: float | None = None, namespace: str | None = None
    ) -> None:
        ttl = ttl if ttl is not None else self.default_ttl
        now = utcnow()
        expires_at = now + timedelta(seconds=ttl) if ttl is not None else None
        db = self._dbs.get()
        insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
        stmt = insert(LMCacheEntry).values(
            id=uuid.uuid4(),
            tenant_id=self.tenant_id,
            key=key,
            namespace=namespace,
            value=value,
            expires_at=expires_at,
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
                    LMCacheEntry.tenant_id == self.tenant_id, LMCacheEntry.expires_at <= utcnow()
                )
            )
            return result.rowcount  # type: ignore[attr-defined]

    async def close(self) -> None:
        await self._dbs.dispose()
