"""The audit trail: one append-only event per change, written in the same transaction as the change.

Most events are one row's change: `before` and `after` are its snapshots (`record`). A delete is
audited with everything the database deletes or unlinks with it (`delete`). A change of many rows at
once (results added to a run, traces pruned) is one event whose `before`/`after` say what changed in
figures (`record_event`).
"""

from __future__ import annotations

import uuid
from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Column, and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._errors import ConflictError, InvalidCursorError
from dspy_ash.store.models import AuditEvent, Base, TenantOwned
from dspy_ash.store.repos._base import snapshot

_Row = TypeVar("_Row", bound=Base)

# The id of the request being served, set by the service around each call (`request_scope`), so every
# event a call writes names it without each repository function taking it as an argument.
current_request_id: ContextVar[str | None] = ContextVar("dspy_ash_audit_request_id", default=None)


@contextmanager
def request_scope(request_id: str | None) -> Generator[None]:
    """Events written inside carry `request_id`."""
    token = current_request_id.set(request_id)
    try:
        yield
    finally:
        current_request_id.reset(token)


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
    return await record_event(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action=action,
        resource_type=type(row).__tablename__,
        resource_id=row.id,
        before=before,
        after=None if action == "delete" else snapshot(row),
    )


async def create_named(
    session: AsyncSession,
    row: _Row,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    name: str,
    noun: str,
    resource: str | None = None,
) -> _Row:
    """Add `row`, whose `name` must be unique where it lives, and audit its creation: a taken name is a
    ConflictError ("a {noun} named ... exists") for `resource` (default: `noun`)."""
    session.add(row)
    try:
        await record(session, tenant_id=tenant_id, actor=actor, action="create", row=row)
    except IntegrityError as exc:
        raise ConflictError(f"a {noun} named {name!r} exists", resource=resource or noun) from exc
    return row


async def record_event(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    action: str,
    resource_type: str,
    resource_id: uuid.UUID,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """An event as given, for a change that is not one row's new state. The caller has flushed the change."""
    event = AuditEvent(
        tenant_id=tenant_id,
        actor=actor,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        before=before,
        after=after,
        request_id=current_request_id.get(),
    )
    session.add(event)
    await session.flush()
    return event


async def delete(session: AsyncSession, *, tenant_id: uuid.UUID, actor: str, row: Base) -> None:
    """Delete `row` and audit it together with what the database's foreign keys do to other audited rows:
    each one deleted with it (ON DELETE CASCADE: a program's versions and runs) gets its own "delete"
    event, each one unlinked from it (ON DELETE SET NULL) an "update" event. Parts without events of
    their own (a version's modules, a dataset's examples, a run's results) go with their owner's event."""
    doomed: dict[uuid.UUID, Base] = {}
    unlinked: dict[uuid.UUID, Base] = {}
    await _walk(session, tenant_id, type(row), [row.id], doomed, unlinked)
    # parts (not audited) were loaded only to follow them to audited rows; they get no events
    doomed = {i: r for i, r in doomed.items() if r.__audited__}
    gone = {row.id: snapshot(row), **{i: snapshot(r) for i, r in doomed.items()}}
    kept = {i: (r, snapshot(r)) for i, r in unlinked.items() if i not in gone}
    await session.delete(row)
    await session.flush()
    for rid, before in gone.items():
        resource = row if rid == row.id else doomed[rid]
        await record_event(
            session,
            tenant_id=tenant_id,
            actor=actor,
            action="delete",
            resource_type=type(resource).__tablename__,
            resource_id=rid,
            before=before,
        )
    for rid, (resource, before) in kept.items():
        await session.refresh(resource)
        await record_event(
            session,
            tenant_id=tenant_id,
            actor=actor,
            action="update",
            resource_type=type(resource).__tablename__,
            resource_id=rid,
            before=before,
            after=snapshot(resource),
        )


def _referrers(model: type[Base]) -> list[tuple[type[Base], Column[Any], str | None]]:
    """(model, its column, ON DELETE) of every foreign key pointing at `model`'s rows (tenant ones aside)."""
    out: list[tuple[type[Base], Column[Any], str | None]] = []
    for mapper in Base.registry.mappers:
        child: type[Base] = mapper.class_
        for fk in child.__table__.foreign_keys:  # type: ignore[attr-defined]
            if fk.column.table is model.__table__ and fk.parent.name != "tenant_id":
                out.append((child, fk.parent, fk.ondelete))
    return out


def _reaches_audited(model: type[Base], seen: frozenset[type[Base]] = frozenset()) -> bool:
    """Whether deleting `model`'s rows cascades to, or unlinks, an audited row (else nothing to load)."""
    for child, _column, ondelete in _referrers(model):
        if child.__audited__ and ondelete in ("CASCADE", "SET NULL"):
            return True
        if ondelete == "CASCADE" and child not in seen and _reaches_audited(child, seen | {model}):
            return True
    return False


async def _walk(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    model: type[Base],
    ids: list[uuid.UUID],
    doomed: dict[uuid.UUID, Base],
    unlinked: dict[uuid.UUID, Base],
) -> None:
    for child, column, ondelete in _referrers(model):
        if ondelete not in ("CASCADE", "SET NULL") or not (child.__audited__ or _reaches_audited(child)):
            continue
        assert issubclass(child, TenantOwned)
        stmt = select(child).where(column.in_(ids), child.tenant_id == tenant_id)
        rows = [r for r in (await session.execute(stmt)).scalars() if r.id not in doomed]
        if ondelete == "SET NULL":
            if child.__audited__:
                unlinked.update((r.id, r) for r in rows)
            continue
        for r in rows:
            doomed[r.id] = r
        if rows:
            await _walk(session, tenant_id, child, [r.id for r in rows], doomed, unlinked)


@dataclass(frozen=True, slots=True)
class EventCursor:
    """Where a page of events ended: the last event's (created_at, id). `str()` and `parse()` for the wire."""

    created_at: datetime
    id: uuid.UUID

    @classmethod
    def of(cls, event: AuditEvent) -> EventCursor:
        return cls(event.created_at, event.id)

    def __str__(self) -> str:
        return f"{self.created_at.isoformat()}/{self.id}"

    @classmethod
    def parse(cls, text: str) -> EventCursor:
        stamp, _, ident = text.rpartition("/")
        try:
            parsed = cls(datetime.fromisoformat(stamp), uuid.UUID(ident))
        except ValueError:
            parsed = None
        if parsed is None or parsed.created_at.tzinfo is None:  # the store's times are all aware
            raise InvalidCursorError(f"{text!r} is not an audit event cursor")
        return parsed


async def list_events(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    resource_type: str | None = None,
    resource_id: uuid.UUID | None = None,
    limit: int = 100,
    newest_first: bool = False,
    cursor: EventCursor | None = None,
) -> list[AuditEvent]:
    """A resource's history (or the tenant's), oldest first unless `newest_first`.

    Pages by keyset on (created_at, id): pass `EventCursor.of(last event of the previous page)` with the
    same filters and order to get the next page. Events written meanwhile neither repeat nor skip rows.
    """
    stmt = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
    if resource_type is not None:
        stmt = stmt.where(AuditEvent.resource_type == resource_type)
    if resource_id is not None:
        stmt = stmt.where(AuditEvent.resource_id == resource_id)
    if cursor is not None:
        at, ident = cursor.created_at, cursor.id
        if newest_first:
            past = or_(AuditEvent.created_at < at, and_(AuditEvent.created_at == at, AuditEvent.id < ident))
        else:
            past = or_(AuditEvent.created_at > at, and_(AuditEvent.created_at == at, AuditEvent.id > ident))
        stmt = stmt.where(past)
    if newest_first:
        stmt = stmt.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    else:
        stmt = stmt.order_by(AuditEvent.created_at, AuditEvent.id)
    return list((await session.execute(stmt.limit(limit))).scalars())
