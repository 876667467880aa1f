"""Connecting: a database's engine (see `engine` for which URL), sessions and transactions."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from dspy_ash.store._engine import create_engine, resolve_url
from dspy_ash.store._migrate import check_current
from dspy_ash.store.models import TenantOwned

TENANT_KEY = "dspy_ash_tenant_id"


class StoreSession(Session):
    """The store's own session class: its tenant scoping listens here, not on SQLAlchemy's `Session`,
    so importing the store changes no other library's sessions in the process."""


@event.listens_for(StoreSession, "do_orm_execute")
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
        self.sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=StoreSession
        )

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
