"""The LM cache's table as a resource: its size, and purges (all, expired only, or one model's replies).

The cache itself reads and writes through `SqlCacheBackend`; these are the operator's views of it.
A purge is one audit event (resource `lm_cache_entry`, id: the tenant's) saying what went and why.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, LargeBinary, Text, case, cast, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._types import utcnow
from dspy_ash.store.models import LMCacheEntry, LMRequestLog
from dspy_ash.store.repos import audit


@dataclass(frozen=True, slots=True)
class CacheStats:
    entries: int
    bytes: int  # of the stored replies' JSON text
    expired: int  # still stored, but past their expiry (a read misses them; a purge removes them)
    oldest: datetime | None
    newest: datetime | None
    requests: int  # LM calls in the request log (in the window asked), and how many the cache answered
    hits: int


def _size(session: AsyncSession) -> ColumnElement[int]:
    text = cast(LMCacheEntry.value, Text)
    if session.get_bind().dialect.name == "postgresql":
        return func.octet_length(text)
    return func.length(cast(text, LargeBinary))  # SQLite's length() of a BLOB counts bytes


def _of_model(model: str) -> ColumnElement[bool]:
    """Replies whose model (as the provider named it) is `model`, with or without its provider prefix."""
    named = LMCacheEntry.value["model"].as_string()
    bare = model.partition("/")[2] or model
    return or_(named == model, named == bare)


async def get_cache_stats(
    session: AsyncSession, *, tenant_id: uuid.UUID, since: datetime | None = None, now: datetime | None = None
) -> CacheStats:
    moment = now or utcnow()
    expired = func.sum(case((LMCacheEntry.expires_at <= moment, 1), else_=0))
    stmt = select(
        func.count(),
        func.sum(_size(session)),
        expired,
        func.min(LMCacheEntry.created_at),
        func.max(LMCacheEntry.created_at),
    ).where(LMCacheEntry.tenant_id == tenant_id)
    entries, size, gone, oldest, newest = (await session.execute(stmt)).one()
    log = [LMRequestLog.tenant_id == tenant_id] + ([LMRequestLog.created_at >= since] if since else [])
    hits = func.sum(case((LMRequestLog.cache_hit.is_(True), 1), else_=0))
    requests, hit_count = (await session.execute(select(func.count(), hits).where(*log))).one()
    return CacheStats(
        entries=int(entries),
        bytes=int(size or 0),
        expired=int(gone or 0),
        oldest=oldest,
        newest=newest,
        requests=int(requests),
        hits=int(hit_count or 0),
    )


async def purge_cache(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    expired_only: bool = False,
    model: str | None = None,
    now: datetime | None = None,
) -> int:
    """Delete the tenant's entries: all, the expired ones, or one model's (both filters may combine).
    Audited even when nothing matched: a purge is an operator's act, and the trail says who asked."""
    where: list[ColumnElement[bool]] = [LMCacheEntry.tenant_id == tenant_id]
    if expired_only:
        where.append(LMCacheEntry.expires_at <= (now or utcnow()))
    if model is not None:
        where.append(_of_model(model))
    result = await session.execute(
        delete(LMCacheEntry).where(*where).execution_options(synchronize_session=False)
    )
    removed: int = result.rowcount  # type: ignore[attr-defined]
    await audit.record_event(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="purge",
        resource_type=LMCacheEntry.__tablename__,
        resource_id=tenant_id,
        after={"removed": removed, "expired_only": expired_only, "model": model},
    )
    return removed
