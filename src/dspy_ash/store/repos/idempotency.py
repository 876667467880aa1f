"""Idempotency records: the reply a request with an Idempotency-Key got, for its retries.

Flow for an action under a key: `lookup`; found with the same `request_hash`, replay its reply; found
with another, refuse (the key was reused for a different request); not found, run the action and
`save` its reply in the action's own transaction. Two requests racing with one key both run, and
the second `save` raises ConflictError: its transaction (the action's change with it) rolls back,
and a new `lookup` finds the first one's reply. Not audited: the change it replays was.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._errors import ConflictError
from dspy_ash.store.models import IdempotencyRecord


async def lookup(
    session: AsyncSession, *, tenant_id: uuid.UUID, action: str, key: str
) -> IdempotencyRecord | None:
    stmt = select(IdempotencyRecord).where(
        IdempotencyRecord.tenant_id == tenant_id,
        IdempotencyRecord.action == action,
        IdempotencyRecord.key == key,
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def save(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    action: str,
    key: str,
    request_hash: str,
    status_code: int,
    response: Any,
) -> IdempotencyRecord:
    """Keep the reply (JSON) under (tenant, action, key). ConflictError if the key has one already,
    including one saved by a concurrent transaction; the caller's transaction is then to be rolled back."""
    record = IdempotencyRecord(
        tenant_id=tenant_id,
        action=action,
        key=key,
        request_hash=request_hash,
        status_code=status_code,
        response=response,
    )
    session.add(record)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError(
            f"idempotency key {key!r} of {action!r} was used already", resource="idempotency_record"
        ) from exc
    return record


async def prune(session: AsyncSession, *, older_than: datetime) -> int:
    """Delete every tenant's records made before `older_than` (a maintenance job's sweep); how many went."""
    result = await session.execute(
        delete(IdempotencyRecord)
        .where(IdempotencyRecord.created_at < older_than)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
