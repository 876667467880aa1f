"""Named signatures a tenant keeps for reuse in declarative programs."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store.models import SignatureRow
from dspy_ash.store.repos import audit
from dspy_ash.store.repos._base import get_owned, list_owned


async def create_signature(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    name: str,
    spec: str,
    instructions: str = "",
    fields: list[dict[str, Any]] | None = None,
) -> SignatureRow:
    row = SignatureRow(
        tenant_id=tenant_id, name=name, spec=spec, instructions=instructions, fields=fields or []
    )
    await audit.create_named(session, row, tenant_id=tenant_id, actor=actor, name=name, noun="signature")
    return row


async def get_signature(
    session: AsyncSession, *, tenant_id: uuid.UUID, signature_id: uuid.UUID
) -> SignatureRow:
    return await get_owned(session, SignatureRow, tenant_id=tenant_id, id=signature_id)


async def list_signatures(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[SignatureRow]:
    return await list_owned(session, SignatureRow, tenant_id=tenant_id, order_by=SignatureRow.name)


async def delete_signature(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: str, signature_id: uuid.UUID
) -> None:
    """Modules that named it keep their rows, unlinked from it (ON DELETE SET NULL)."""
    row = await get_owned(session, SignatureRow, tenant_id=tenant_id, id=signature_id)
    await audit.delete(session, tenant_id=tenant_id, actor=actor, row=row)
