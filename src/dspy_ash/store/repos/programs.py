"""Programs: code programs (a Module subclass by import path) and declarative programs (a validated spec).

A declarative spec is checked above the store, by `dspy_ash.programs.validate_spec`, before it is kept
here; `dspy_ash.programs._instantiate` makes a stored program into an engine module.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._errors import InvalidSpecError
from dspy_ash.store.models import Program
from dspy_ash.store.repos import audit
from dspy_ash.store.repos._base import get_owned, list_owned, snapshot

_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


async def create_program(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    name: str,
    source: str | None = None,
    spec: dict[str, Any] | None = None,
    description: str = "",
) -> Program:
    """Exactly one of `source` ("pkg.mod:Class", a code program) or `spec` (a declarative program, as
    `dspy_ash.programs.validate_spec(...).model_dump(mode="json")` gives it)."""
    if (source is None) == (spec is None):
        raise InvalidSpecError("give a program either a source import path or a declarative spec")
    if source is not None and not _IMPORT_PATH.match(source):
        raise InvalidSpecError(
            f"{source!r} is not an import path like 'package.module:Class'", location="source"
        )
    program = Program(
        tenant_id=tenant_id,
        name=name,
        kind="code" if source else "declarative",
        source=source,
        spec=spec,
        description=description,
    )
    await audit.create_named(session, program, tenant_id=tenant_id, actor=actor, name=name, noun="program")
    return program


async def get_program(session: AsyncSession, *, tenant_id: uuid.UUID, program_id: uuid.UUID) -> Program:
    return await get_owned(session, Program, tenant_id=tenant_id, id=program_id)


async def get_programs(
    session: AsyncSession, *, tenant_id: uuid.UUID, program_ids: list[uuid.UUID]
) -> list[Program]:
    """Several programs in one query (another tenant's ids are simply absent): for batched loads."""
    if not program_ids:
        return []
    return await list_owned(
        session, Program, Program.id.in_(program_ids), tenant_id=tenant_id, order_by=Program.created_at
    )


async def find_program(session: AsyncSession, *, tenant_id: uuid.UUID, name: str) -> Program | None:
    stmt = select(Program).where(Program.tenant_id == tenant_id, Program.name == name)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_programs(
    session: AsyncSession, *, tenant_id: uuid.UUID, limit: int = 100, offset: int = 0
) -> list[Program]:
    stmt = (
        select(Program)
        .where(Program.tenant_id == tenant_id)
        .order_by(Program.name)
        .limit(limit)
        .offset(offset)
    )
    return list((await session.execute(stmt)).scalars())


async def update_program(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    program_id: uuid.UUID,
    description: str | None = None,
    spec: dict[str, Any] | None = None,
) -> Program:
    """A new description, or a new spec (checked by `dspy_ash.programs.validate_spec`) for a declarative one."""
    program = await get_owned(session, Program, tenant_id=tenant_id, id=program_id)
    before = snapshot(program)
    if description is not None:
        program.description = description
    if spec is not None:
        if program.kind != "declarative":
            raise InvalidSpecError("only declarative programs have a spec", location="spec")
        program.spec = spec
    await audit.record(session, tenant_id=tenant_id, actor=actor, action="update", row=program, before=before)
    return program


async def delete_program(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: str, program_id: uuid.UUID
) -> None:
    """Its versions and runs go with it, each with a "delete" event of its own."""
    program = await get_owned(session, Program, tenant_id=tenant_id, id=program_id)
    await audit.delete(session, tenant_id=tenant_id, actor=actor, row=program)
