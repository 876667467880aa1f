"""A program's own modules: predictors kept as rows of their own (`module` rows without a version), each
with a type, a signature (a stored one or a string in its config) and a config.

The `module` rows of a version (its predictors' saved state, written with it) are not these: they are
parts of an immutable version, listed through `versions.list_modules`.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._errors import ConflictError, NotFoundError
from dspy_ash.store.models import ModuleRow, Program, SignatureRow
from dspy_ash.store.repos import audit
from dspy_ash.store.repos._base import check_owned, get_owned


async def create_module(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    program_id: uuid.UUID,
    name: str,
    type: str,
    signature_id: uuid.UUID | None = None,
    config: dict[str, Any] | None = None,
) -> ModuleRow:
    """A module of `program_id`; its name is unique among the program's modules (ConflictError)."""
    await check_owned(session, Program, [program_id], tenant_id=tenant_id)
    await check_owned(session, SignatureRow, [signature_id], tenant_id=tenant_id)
    taken = select(ModuleRow.id).where(
        ModuleRow.tenant_id == tenant_id,
        ModuleRow.program_id == program_id,
        ModuleRow.version_id.is_(None),
        ModuleRow.name == name,
    )
    if (await session.execute(taken)).first() is not None:
        raise ConflictError(f"the program has a module named {name!r}", resource="module")
    row = ModuleRow(
        tenant_id=tenant_id,
        program_id=program_id,
        name=name,
        type=type,
        signature_id=signature_id,
        config=config or {},
    )
    session.add(row)
    await audit.record(session, tenant_id=tenant_id, actor=actor, action="create", row=row)
    return row


async def get_module(session: AsyncSession, *, tenant_id: uuid.UUID, module_id: uuid.UUID) -> ModuleRow:
    """A program's own module; a version's predictor row answers NotFoundError like a missing one."""
    row = await get_owned(session, ModuleRow, tenant_id=tenant_id, id=module_id)
    if row.version_id is not None:
        raise NotFoundError("module", module_id)
    return row


async def delete_module(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: str, module_id: uuid.UUID
) -> None:
    row = await get_module(session, tenant_id=tenant_id, module_id=module_id)
    await audit.delete(session, tenant_id=tenant_id, actor=actor, row=row)
