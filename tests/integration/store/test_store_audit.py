"""Audit events: written in the same transaction as the change, listable per resource, append-only."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from dspy_ash.store import ConflictError, Database, repos
from dspy_ash.store.models import AuditEvent, Program


async def _audit_count(db: Database, tenant: uuid.UUID) -> int:
    async with db.transaction() as s:
        return (
            await s.execute(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.tenant_id == tenant)
            )
        ).scalar_one()


async def test_every_change_has_its_event_with_before_and_after(db: Database, tenant: uuid.UUID) -> None:
    async with db.transaction() as s:
        program = await repos.programs.create_program(
            s, tenant_id=tenant, actor="alice", name="p", source="a.b:C"
        )
    async with db.transaction() as s:
        await repos.programs.update_program(
            s, tenant_id=tenant, actor="bob", program_id=program.id, description="now described"
        )
    async with db.transaction() as s:
        await repos.programs.delete_program(s, tenant_id=tenant, actor="carol", program_id=program.id)
    async with db.transaction() as s:
        events = await repos.audit.list_events(
            s, tenant_id=tenant, resource_type="program", resource_id=program.id
        )
    assert [(e.actor, e.action) for e in events] == [
        ("alice", "create"),
        ("bob", "update"),
        ("carol", "delete"),
    ]
    create, change, removal = events
    assert create.before is None and create.after is not None and create.after["name"] == "p"
    assert change.before is not None and change.before["description"] == ""
    assert change.after is not None and change.after["description"] == "now described"
    assert removal.before is not None and removal.after is None


async def test_a_failing_change_leaves_no_audit_row(db: Database, tenant: uuid.UUID) -> None:
    async with db.transaction() as s:
        await repos.programs.create_program(s, tenant_id=tenant, actor="t", name="taken", source="a.b:C")
    before = await _audit_count(db, tenant)
    with pytest.raises(ConflictError):
        async with db.transaction() as s:
            await repos.programs.create_program(s, tenant_id=tenant, actor="t", name="taken", source="a.b:D")
    assert await _audit_count(db, tenant) == before


async def test_a_transaction_failing_after_the_change_drops_change_and_event_together(
    db: Database, tenant: uuid.UUID
) -> None:
    before = await _audit_count(db, tenant)
    with pytest.raises(RuntimeError):
        async with db.transaction() as s:
            await repos.programs.create_program(s, tenant_id=tenant, actor="t", name="doomed", source="a.b:C")
            assert await _audit_count_in(s, tenant) == before + 1  # the event is in the same transaction
            raise RuntimeError("something later in the action failed")
    assert await _audit_count(db, tenant) == before
    async with db.transaction() as s:
        assert await repos.programs.find_program(s, tenant_id=tenant, name="doomed") is None


async def _audit_count_in(s: object, tenant: uuid.UUID) -> int:
    from sqlalchemy.ext.asyncio import AsyncSession

    assert isinstance(s, AsyncSession)
    return (
        await s.execute(select(func.count()).select_from(AuditEvent).where(AuditEvent.tenant_id == tenant))
    ).scalar_one()


@pytest.mark.parametrize("statement", ["update", "delete"])
async def test_audit_events_are_append_only(db: Database, tenant: uuid.UUID, statement: str) -> None:
    async with db.transaction() as s:
        await repos.programs.create_program(s, tenant_id=tenant, actor="t", name="p", source="a.b:C")
    before = await _audit_count(db, tenant)  # the tenant's creation and the program's
    assert before == 2
    stmt = update(AuditEvent).values(actor="mallory") if statement == "update" else delete(AuditEvent)
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.transaction() as s:
            await s.execute(stmt.where(AuditEvent.tenant_id == tenant))
    assert await _audit_count(db, tenant) == before
    async with db.transaction() as s:
        assert {e.actor for e in await repos.audit.list_events(s, tenant_id=tenant)} == {"test", "t"}


async def test_direct_program_rows_are_untouched_by_a_failed_update(db: Database, tenant: uuid.UUID) -> None:
    async with db.transaction() as s:
        program = await repos.programs.create_program(
            s, tenant_id=tenant, actor="t", name="p", source="a.b:C"
        )
    with pytest.raises(ValueError):
        async with db.transaction() as s:
            await repos.programs.update_program(
                s, tenant_id=tenant, actor="t", program_id=program.id, description="changed"
            )
            raise ValueError("abort")
    async with db.transaction() as s:
        row = (await s.execute(select(Program).where(Program.id == program.id))).scalar_one()
        assert row.description == ""
