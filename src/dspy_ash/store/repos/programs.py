"""Programs: code programs (a Module subclass by import path) and declarative programs (a validated spec)."""

from __future__ import annotations

import importlib
import re
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store.declarative import validate_spec
from dspy_ash.store.errors import ConflictError, InvalidSpecError
from dspy_ash.store.models import Program
from dspy_ash.store.repos import audit
from dspy_ash.store.repos._base import get_owned, snapshot

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
    """Exactly one of `source` ("pkg.mod:Class", a code program) or `spec` (a declarative program)."""
    if (source is None) == (spec is None):
        raise InvalidSpecError("give a program either a source import path or a declarative spec")
    if source is not None and not _IMPORT_PATH.match(source):
        raise InvalidSpecError(
            f"{source!r} is not an import path like 'package.module:Class'", location="source"
        )
    checked = validate_spec(spec).model_dump(mode="json") if spec is not None else None
    program = Program(
        tenant_id=tenant_id,
        name=name,
        kind="code" if source else "declarative",
        source=source,
        spec=checked,
        description=description,
    )
    session.add(program)
    try:
        await audit.record(session, tenant_id=tenant_id, actor=actor, action="create", row=program)
    except IntegrityError as exc:
        raise ConflictError(f"a program named {name!r} exists", resource="program") from exc
    return program


async def get_program(session: AsyncSession, *, tenant_id: uuid.UUID, program_id: uuid.UUID) -> Program:
    return await get_owned(session, Program, tenant_id=tenant_id, id=program_id)


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
    program = await get_owned(session, Program, tenant_id=tenant_id, id=program_id)
    before = snapshot(program)
    if description is not None:
        program.description = description
    if spec is not None:
        if program.kind != "declarative":
            raise InvalidSpecError("only declarative programs have a spec", location="spec")
        program.spec = validate_spec(spec).model_dump(mode="json")
    await audit.record(session, tenant_id=tenant_id, actor=actor, action="update", row=program, before=before)
    return program


async def delete_program(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: str, program_id: uuid.UUID
) -> None:
    """Its versions and runs go with it, each with a "delete" event of its own."""
    program = await get_owned(session, Program, tenant_id=tenant_id, id=program_id)
    await audit.delete(session, tenant_id=tenant_id, actor=actor, row=program)


def instantiate(program: Program, *, state: dict[str, Any] | None = None) -> Any:
    """A fresh engine module for a stored program, optionally loaded with a version's saved state.

    Code programs import their class (deployed code, never a stored string); declarative programs
    are built from their spec.
    """
    if program.kind == "declarative":
        from dspy_ash.store.build import build_program

        assert program.spec is not None
        module = build_program(program.spec)
    else:
        assert program.source is not None
        module_name, _, qualname = program.source.partition(":")
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
        module = target()
    if state is not None:
        module.load_state(state)
    return module
