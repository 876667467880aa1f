"""Keyset pages of any tenant-owned table: sorted by one non-null column, then by id, with an opaque cursor.

A cursor names the sort it was made for and the last row's (value, id), so rows written between two
page requests neither repeat nor skip, and a cursor replayed with another sort is refused.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._errors import InvalidCursorError, InvalidValueError
from dspy_ash.store.models import Base, TenantOwned

T = TypeVar("T", bound=Base)


def parse_sort(sort: str, allowed: Collection[str]) -> tuple[str, bool]:
    """`"name"` or `"-created_at"` into (column, descending); a column not in `allowed` is an InvalidValueError."""
    column = sort.removeprefix("-")
    if column not in allowed:
        raise InvalidValueError("sort", f"cannot sort by {column!r}; choose one of {sorted(allowed)}")
    return column, sort.startswith("-")


def _encode(sort: str, value: Any, ident: uuid.UUID) -> str:
    wire = value.isoformat() if isinstance(value, datetime) else value
    raw = json.dumps([sort, wire, str(ident)], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, sort: str, model: type[Base], column: str) -> tuple[Any, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        made_for, value, ident = json.loads(raw)
        last_id = uuid.UUID(ident)
        if isinstance(getattr(model, column).type.python_type, type) and issubclass(
            getattr(model, column).type.python_type, datetime
        ):
            value = datetime.fromisoformat(value)
    except (ValueError, TypeError, NotImplementedError):
        raise InvalidCursorError("the cursor is malformed") from None
    if made_for != sort:
        raise InvalidCursorError(f"the cursor was made for sort {made_for!r}, not {sort!r}")
    return value, last_id


async def page_rows(
    session: AsyncSession,
    model: type[T],
    *where: ColumnElement[bool],
    tenant_id: uuid.UUID,
    sort: str,
    allowed_sorts: Collection[str],
    cursor: str | None,
    limit: int,
    equal: Mapping[str, Any] | None = None,
) -> tuple[list[T], str | None]:
    """One page of this tenant's rows matching `where` and `equal` (column -> value, None values ignored),
    and the cursor of the next page (None on the last)."""
    assert issubclass(model, TenantOwned)
    column_name, descending = parse_sort(sort, allowed_sorts)
    column = getattr(model, column_name)
    filters = [getattr(model, key) == value for key, value in (equal or {}).items() if value is not None]
    stmt = select(model).where(model.tenant_id == tenant_id, *where, *filters)
    if cursor is not None:
        value, last_id = _decode(cursor, sort, model, column_name)
        if descending:
            stmt = stmt.where(or_(column < value, and_(column == value, model.id < last_id)))
        else:
            stmt = stmt.where(or_(column > value, and_(column == value, model.id > last_id)))
    order = (column.desc(), model.id.desc()) if descending else (column, model.id)
    rows = list((await session.execute(stmt.order_by(*order).limit(limit + 1))).scalars())
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], _encode(sort, getattr(last, column_name), last.id)
