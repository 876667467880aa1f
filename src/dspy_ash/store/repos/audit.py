"""The audit trail: one append-only event per change, written in the same transaction as the change."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store.models import AuditEvent, Base
from dspy_ash.store.repos._base import snapshot


async def record(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    action: str,
    row: Base,
    before: dict[str, Any] | None = None,
) -> AuditEvent:
    """Flush the change, then add its audit event. The caller's transaction commits or drops both."""
    await session.flush()  # a change that violates a constraint fails here, before any audit row exists
    event = AuditEvent(
        tenant_id=tenant_id,
        actor=actor,
        action=action,
        resource_type=type(row).__tablename__,
        resource_id=row.id,
        before=before,
        after=None if action == "delete" else snapshot(row),
    )
    session.add(event)
    await session.flush()
    return event


async def list_events(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    resource_type: str | None = None,
    resource_id: uuid.UUID | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    """A resource's history (or the tenant's), oldest first."""
    stmt = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
    if resource_type is not None:
        stmt = stmt.where(AuditEvent.resource_type == resource_type)
    if resource_id is not None:
        stmt = stmt.where(AuditEvent.resource_id == resource_id)
    stmt = stmt.order_by(AuditEvent.created_at, AuditEvent.id).limit(limit)
    return list((await session.execute(stmt)).scalars())
