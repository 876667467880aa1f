"""What every repository shares: tenant-scoped fetches and the audit snapshot of a row."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._errors import NotFoundError, WrongParentError
from dspy_ash.store._jsonable import to_jsonable
from dspy_ash.store.models import Base, TenantOwned

T = TypeVar("T", bound=Base)
_BATCH = 1000  # ids per IN (...): well under every database's bound-parameter limit
# How stale a "last used" / "last seen" time may get: writing it on every request would make each
# authenticated read a write.
TOUCH_INTERVAL = timedelta(seconds=60)


async def get_owned(
    session: AsyncSession, model: type[T], *, tenant_id: uuid.UUID, id: uuid.UUID, for_update: bool = False
) -> T:
    """The row with this id in this tenant; another tenant's row is indistinguishable from a missing one."""
    assert issubclass(model, TenantOwned)
    stmt = select(model).where(model.id == id, model.tenant_id == tenant_id)
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFoundError(model.__tablename__, id)
    return row


async def check_owned(
    session: AsyncSession,
    model: type[Base],
    ids: Iterable[uuid.UUID | None],
    *,
    tenant_id: uuid.UUID,
    parent: tuple[str, uuid.UUID] | None = None,
) -> None:
    """Each id (None skipped) is a row of this tenant (NotFoundError, worded as by `get_owned`) and, given
    `parent=("program", program_id)`, a row whose `program_id` is that id (WrongParentError): a write
    naming two related ids must not let them disagree."""
    assert issubclass(model, TenantOwned)
    column = getattr(model, f"{parent[0]}_id") if parent else model.id
    wanted = list(dict.fromkeys(i for i in ids if i is not None))
    for start in range(0, len(wanted), _BATCH):
        chunk = wanted[start : start + _BATCH]
        stmt = select(model.id, column).where(model.tenant_id == tenant_id, model.id.in_(chunk))
        found: dict[uuid.UUID, Any] = dict((await session.execute(stmt)).tuples().all())
        for ident in chunk:
            if ident not in found:
                raise NotFoundError(model.__tablename__, ident)
            if parent is not None and found[ident] != parent[1]:
                raise WrongParentError(
                    model.__tablename__, ident, parent=parent[0], actual=found[ident], expected=parent[1]
                )


async def list_owned(
    session: AsyncSession, model: type[T], *where: ColumnElement[bool], tenant_id: uuid.UUID, order_by: Any
) -> list[T]:
    """This tenant's rows of `model` that match `where`, in `order_by` order."""
    assert issubclass(model, TenantOwned)
    stmt = select(model).where(model.tenant_id == tenant_id, *where).order_by(order_by)
    return list((await session.execute(stmt)).scalars())


def snapshot(row: Base) -> dict[str, Any]:
    """The row's columns as JSON for an audit event, without the columns the model excludes (secrets, bulk)."""
    exclude = type(row).__audit_exclude__
    return {
        attr.key: to_jsonable(getattr(row, attr.key))
        for attr in row.__mapper__.column_attrs
        if attr.key not in exclude
    }


def sha256_hex(token: str) -> str:
    """The stored form of a random token (API key, session, CSRF): 256 random bits need no slow hash."""
    return hashlib.sha256(token.encode()).hexdigest()


async def touch(
    session: AsyncSession, model: type[Base], attribute: str, *, id: uuid.UUID, now: datetime
) -> bool:
    """Set `model.attribute` of row `id` to `now` unless it is already within TOUCH_INTERVAL of it, in one
    UPDATE (no read first) that leaves `updated_at` alone. Returns whether it wrote."""
    column = getattr(model, attribute)
    stmt = (
        update(model)
        .where(model.id == id, or_(column.is_(None), column < now - TOUCH_INTERVAL))
        .values({attribute: now, "updated_at": model.updated_at})
        .execution_options(synchronize_session=False)
    )
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]
