"""Fast multi-row inserts for the recorder and bulk loads: one driver-level executemany per table.

SQLAlchemy's per-row bind processing (UUIDs, time zones, JSON) cost ~30 µs a row here, which
the trace recorder pays beside the program it records. This writes the values as the dialect
stores them (what SQLAlchemy would write, checked by the tests reading rows back through the
ORM) and hands the driver ready tuples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, cast

from sqlalchemy import JSON, Table, Uuid
from sqlalchemy.ext.asyncio import AsyncConnection

from dspy_ash.store._jsonable import EncodedJSON, encode
from dspy_ash.store._types import UTCDateTime
from dspy_ash.store.models import Base

Adapter = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _json(value: Any) -> Any:
    if value is None:
        return None
    return (value if type(value) is EncodedJSON else encode(value)).text


def _sqlite_uuid(value: Any) -> Any:
    return None if value is None else value.hex  # SQLAlchemy's Uuid on SQLite: CHAR(32), no dashes


def _sqlite_time(value: Any) -> Any:
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")  # naive UTC, SQLAlchemy's SQLite format


def _pg_time(value: Any) -> Any:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        raise ValueError("the store takes aware datetimes only")
    return value


def _adapter(column_type: Any, dialect: str) -> Adapter:
    if isinstance(column_type, UTCDateTime):
        return _sqlite_time if dialect == "sqlite" else _pg_time
    if isinstance(column_type, Uuid):
        return _sqlite_uuid if dialect == "sqlite" else _identity
    if isinstance(column_type, JSON) or isinstance(getattr(column_type, "impl", None), JSON):
        return _json
    return _identity


class BulkInsert:
    """An INSERT of every column of a model's table on one dialect, taking rows as dicts."""

    def __init__(self, model: type[Base], dialect: str) -> None:
        table = cast(Table, model.__table__)
        self.columns = [c.name for c in table.columns]
        types = {c.name: c.type for c in table.columns}
        adapters = [_adapter(types[name], dialect) for name in self.columns]
        # only the columns that need converting are touched per row
        self._convert = [(i, a) for i, a in enumerate(adapters) if a is not _identity]
        self._get = itemgetter(*self.columns)
        mark = "?" if dialect == "sqlite" else "%s"
        self.sql = f"INSERT INTO {table.name} ({', '.join(self.columns)}) VALUES ({', '.join([mark] * len(self.columns))})"

    def params(self, rows: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
        get, convert = self._get, self._convert
        out: list[tuple[Any, ...]] = []
        for row in rows:
            values = list(get(row))
            for i, adapt in convert:
                values[i] = adapt(values[i])
            out.append(tuple(values))
        return out

    async def run(self, conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await conn.exec_driver_sql(self.sql, self.params(rows))  # type: ignore[arg-type]
