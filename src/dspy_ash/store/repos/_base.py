"""What every repository shares: tenant-scoped fetches and the audit snapshot of a row."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store.errors import NotFoundError
from dspy_ash.store.jsonable import to_jsonable
from dspy_ash.store.models import Base, TenantOwned

T = TypeVar("T", bound=Base)


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
