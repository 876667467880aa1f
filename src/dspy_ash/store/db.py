"""Connecting: which database, engines with the right pragmas, sessions and transactions.

The URL comes from an explicit argument, else `DSPY_ASH_DATABASE_URL`, else a SQLite file under
`dspy_ash.settings.data_dir()` (created on first use: zero set-up). PostgreSQL is
`postgresql+psycopg://user@host/db` (psycopg 3, async).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from dspy_ash.settings import data_dir, env
from dspy_ash.store.models import TenantOwned

URL_ENV = "DSPY_ASH_DATABASE_URL"
TENANT_KEY = "dspy_ash_tenant_id"


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


@event.listens_for(Session, "do_orm_execute")
def _scope_to_tenant(state: ORMExecuteState) -> None:
    """Defence in depth: in a tenant session every ORM query is filtered to that tenant, even one that forgot."""
    tenant_id = state.session.info.get(TENANT_KEY)
    if tenant_id is None or not (state.is_select or state.is_update or state.is_delete):
        return
    state.statement = state.statement.options(
        with_loader_criteria(TenantOwned, lambda cls: cls.tenant_id == tenant_id, include_aliases=True)
    )


class Database:
    """One database: an async engine and its sessions. Create one per process (and event loop)."""

    def __init__(self, url: str | None = None, *, echo: bool = False, **engine_kwargs: Any) -> None:
        self.url = resolve_url(url)
        self.engine = create_engine(self.url, echo=echo, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self, *, tenant_id: uuid.UUID | None = None) -> AsyncGenerator[AsyncSession]:
        """A session in one transaction: committed on success, rolled back on any exception.

        With `tenant_id`, every ORM query in it is filtered to that tenant as well.
        """
        async with self.sessions() as session, session.begin():
            if tenant_id is not None:
                session.info[TENANT_KEY] = tenant_id
            yield session

    async def check_schema(self) -> None:
        """Raise SchemaOutOfDateError unless the database is at this code's migration head."""
        from dspy_ash.store.migrate import check_current

        await check_current(self.engine)

    async def dispose(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.dispose()


async def connect(url: str | None = None, *, check_schema: bool = True, **engine_kwargs: Any) -> Database:
    """Open the database a process will use, refusing (SchemaOutOfDateError) one whose schema is not current.

    This is the start-up check: servers and workers call it before serving anything.
    """
    db = Database(url, **engine_kwargs)
    if check_schema:
        try:
            await db.check_schema()
        except BaseException:
            await db.dispose()
            raise
    return db
