"""Fast multi-row inserts for the recorder and bulk loads: one driver-level executemany per table.

SQLAlchemy's per-row bind processing (UUIDs, time zones, JSON) cost ~30 µs a row here, which
the trace recorder pays beside the program it records. This writes the values as the dialect
stores them (what SQLAlchemy would write, checked by the tests reading rows back through the
ORM) and hands the driver ready tuples.
"""

from __future__ import annotations

import json
import math
import time
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


def _pg_cast(column_type: Any) -> str:
    """The type a batch's text value is cast to. Strings stay text: the column's own length check then
    applies on assignment (an explicit cast to VARCHAR(n) would truncate silently instead)."""
    from sqlalchemy.dialects import postgresql

    compiled = str(column_type.compile(dialect=postgresql.dialect()))
    return "text" if compiled.startswith("VARCHAR") else compiled


class StoredRows:
    """An INSERT of rows already in the form the dialect stores, as tuples in a given column order.

    The values are what `BulkInsert` would hand the driver: UUIDs as 32 hex digits, times as
    `time_text` makes them, JSON as its text (None for SQL NULL). On SQLite the driver takes the
    tuples as they are (one executemany). On PostgreSQL the whole batch goes as one JSON array of
    arrays and the server splits and casts it (`jsonb_array_elements`, `->>`, `::type`): psycopg's
    per-row parameter work was most of the recorder's cost there, and the server's is not in the
    serving process. A batch JSON cannot hold (a NaN or an infinity in a float column) takes the
    executemany road.
    """

    def __init__(self, model: type[Base], dialect: str, columns: Sequence[str]) -> None:
        table = cast(Table, model.__table__)
        if sorted(columns) != sorted(c.name for c in table.columns):
            raise ValueError(f"the rows of {table.name} must name each of its columns once")
        self.columns = tuple(columns)
        self.dialect = dialect
        mark = "?" if dialect == "sqlite" else "%s"
        names = ", ".join(self.columns)
        self.sql = f"INSERT INTO {table.name} ({names}) VALUES ({', '.join([mark] * len(self.columns))})"
        fields = ", ".join(
            f"(r->>{i})::{_pg_cast(table.columns[name].type)}" for i, name in enumerate(self.columns)
        )
        self.batch_sql = (
            f"INSERT INTO {table.name} ({names}) SELECT {fields} FROM jsonb_array_elements(%s::jsonb) AS r"
        )

    def document(self, rows: Sequence[tuple[Any, ...]]) -> str:
        """The JSON array the PostgreSQL statement takes. ValueError for a value JSON has no word for.

        Encoded a few hundred rows at a time, handing the GIL back in between: the encoder is one C
        call that holds it throughout (tens of milliseconds for a big batch), and the program's event
        loop would wait on it."""
        if len(rows) <= DOCUMENT_CHUNK:
            return _batch_encode(rows)
        parts: list[str] = []
        for start in range(0, len(rows), DOCUMENT_CHUNK):
            if start:
                time.sleep(0)
            parts.append(_batch_encode(rows[start : start + DOCUMENT_CHUNK])[1:-1])
        return f"[{','.join(parts)}]"

    async def run(self, conn: AsyncConnection, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self.dialect == "postgresql":
            try:
                document = self.document(rows)
            except (ValueError, TypeError):  # NaN, an infinity, an odd number type: the driver knows them
                pass
            else:
                await conn.exec_driver_sql(self.batch_sql, (document,))
                return
        await conn.exec_driver_sql(self.sql, rows)  # type: ignore[arg-type]


DOCUMENT_CHUNK = 256  # rows encoded per C call (a few milliseconds of work)
# Plain values only (str, int, float, bool, None): the rows' JSON columns are text already.
_batch_encode = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, check_circular=False, separators=(",", ":")
).encode


def time_text(dialect: str) -> Callable[[float], str]:
    """A POSIX timestamp as the dialect stores it, exactly as `datetime.fromtimestamp(ts, UTC)` then
    `BulkInsert` would write it (microseconds rounded half to even), from a per-second cache."""
    suffix = "" if dialect == "sqlite" else "+00:00"
    seconds: dict[int, str] = {}

    def text(timestamp: float) -> str:
        fraction, whole = math.modf(timestamp)
        micro = round(fraction * 1e6)
        if micro >= 1_000_000:
            micro -= 1_000_000
            whole += 1.0
        elif micro < 0:
            micro += 1_000_000
            whole -= 1.0
        second = int(whole)
        prefix = seconds.get(second)
        if prefix is None:
            if len(seconds) > 4096:  # a long-lived writer meets each second once; keep the cache small
                seconds.clear()
            prefix = seconds[second] = datetime.fromtimestamp(second, UTC).replace(tzinfo=None).isoformat(" ")
        return f"{prefix}.{micro:06d}{suffix}"

    return text
