"""The store's tenant scoping is its own: importing the store leaves other SQLAlchemy sessions alone."""

from __future__ import annotations

import uuid

from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from dspy_ash.store._db import TENANT_KEY, Database
from dspy_ash.store.models import Base, Dataset, Tenant

TWO_TABLES = [Base.metadata.tables[model.__tablename__] for model in (Tenant, Dataset)]


def test_a_plain_sqlalchemy_session_is_not_scoped_by_the_store() -> None:
    """Another library's Session in the same process, even one reading the store's tables with the
    store's tenant key in its `info`, sees every row: the scoping listener is not on `Session`."""
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine, tables=TWO_TABLES)
    mine, theirs = uuid.uuid4(), uuid.uuid4()
    with Session(engine, info={TENANT_KEY: theirs}) as session:
        session.add(Tenant(id=mine, tenant_id=mine, name="mine"))
        session.flush()
        session.add(Dataset(tenant_id=mine, name="d"))
        session.flush()
        assert [d.tenant_id for d in session.scalars(select(Dataset))] == [mine]
    engine.dispose()


async def test_the_stores_own_sessions_are_scoped() -> None:
    db = Database("sqlite+aiosqlite://")
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(lambda c: Base.metadata.create_all(c, tables=TWO_TABLES))
        mine, theirs = uuid.uuid4(), uuid.uuid4()
        async with db.transaction() as s:
            s.add(Tenant(id=mine, tenant_id=mine, name="mine"))
            await s.flush()
            s.add(Dataset(tenant_id=mine, name="d"))
        async with db.transaction(tenant_id=theirs) as s:
            assert list(await s.scalars(select(Dataset))) == []
        async with db.transaction(tenant_id=mine) as s:
            assert [d.name for d in await s.scalars(select(Dataset))] == ["d"]
    finally:
        await db.dispose()
