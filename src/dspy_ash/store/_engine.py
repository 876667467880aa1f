"""Engines: which database URL, and an async engine with the right pragmas.

The URL comes from an explicit argument, else `DSPY_ASH_DATABASE_URL`, else a SQLite file under
`dspy_ash.settings.data_dir()` (created on first use: zero set-up). PostgreSQL is
`postgresql+psycopg://user@host/db` (psycopg 3, async). Both `db` (sessions) and `migrate` (Alembic)
open their engines here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from dspy_ash.settings import data_dir, env

URL_ENV = "DSPY_ASH_DATABASE_URL"


def default_sqlite_url() -> str:
    return f"sqlite+aiosqlite:///{data_dir() / 'dspy-ash.db'}"


def resolve_url(url: str | None = None) -> str:
    """Explicit argument, else the environment, else the SQLite default. Bare driver names get the async one."""
    chosen = url or env(URL_ENV) or default_sqlite_url()
    parsed = make_url(chosen)
    if parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+asyncpg"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (dashboards, the trace query) run while the recorder writes; foreign keys are
    # off by default in SQLite and the cascades depend on them; busy_timeout waits instead of failing
    # when two writers meet.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(url: str | None = None, **kwargs: Any) -> AsyncEngine:
    resolved = resolve_url(url)
    parsed = make_url(resolved)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(resolved, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine
