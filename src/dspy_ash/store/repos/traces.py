"""Reading traces back, and retention."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._types import utcnow
from dspy_ash.store.models import Trace, TraceSpan
from dspy_ash.store.repos import audit
from dspy_ash.store.repos._base import get_owned


@dataclass(frozen=True, slots=True)
class TraceWithSpans:
    trace: Trace
    spans: list[TraceSpan]


async def list_traces(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    program_id: uuid.UUID | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    status: str | None = None,
    limit: int = 100,
) -> list[Trace]:
    """Newest first; uses the (tenant, program, started_at) index."""
    stmt = select(Trace).where(Trace.tenant_id == tenant_id)
    if program_id is not None:
        stmt = stmt.where(Trace.program_id == program_id)
    if since is not None:
        stmt = stmt.where(Trace.started_at >= since)
    if until is not None:
        stmt = stmt.where(Trace.started_at < until)
    if status is not None:
        stmt = stmt.where(Trace.status == status)
    stmt = stmt.order_by(Trace.started_at.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def get_trace(session: AsyncSession, *, tenant_id: uuid.UUID, trace_id: uuid.UUID) -> TraceWithSpans:
    trace = await get_owned(session, Trace, tenant_id=tenant_id, id=trace_id)
    stmt = (
        select(TraceSpan)
        .where(TraceSpan.tenant_id == tenant_id, TraceSpan.trace_id == trace_id)
        .order_by(TraceSpan.started_at)
    )
    return TraceWithSpans(trace=trace, spans=list((await session.execute(stmt)).scalars()))


async def prune_traces(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    max_age: timedelta | None = None,
    max_traces: int | None = None,
) -> int:
    """Delete the tenant's traces older than `max_age` and beyond the newest `max_traces` (spans cascade).

    A pass that removes traces writes one audit event (resource "trace", id: the tenant's, since it acts
    on the tenant's traces as a whole) saying how many went and under which policy; an empty pass none.
    """
    removed = 0
    if max_age is not None:
        result = await session.execute(
            delete(Trace)
            .where(Trace.tenant_id == tenant_id, Trace.started_at < utcnow() - max_age)
            .execution_options(synchronize_session=False)
        )
        removed += result.rowcount  # type: ignore[attr-defined]
    if max_traces is not None:
        keep = (
            select(Trace.id)
            .where(Trace.tenant_id == tenant_id)
            .order_by(Trace.started_at.desc(), Trace.id.desc())
            .limit(max_traces)
        )
        result = await session.execute(
            delete(Trace)
            .where(Trace.tenant_id == tenant_id, Trace.id.not_in(keep.scalar_subquery()))
            .execution_options(synchronize_session=False)
        )
        removed += result.rowcount  # type: ignore[attr-defined]
    if removed:
        await audit.record_event(
            session,
            tenant_id=tenant_id,
            actor=actor,
            action="prune",
            resource_type=Trace.__tablename__,
            resource_id=tenant_id,
            after={
                "removed": removed,
                "max_age_seconds": None if max_age is None else max_age.total_seconds(),
                "max_traces": max_traces,
            },
        )
    return removed
