"""The store suite runs on SQLite and on PostgreSQL: every test takes the `database_url` fixture,
parametrized over both. PostgreSQL gets a fresh database per test session (dropped afterwards); the
PostgreSQL half skips with the reason when no server answers on 127.0.0.1:5432."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from store_helpers import fresh_database

from dspy_ash.store import Database, repos
from dspy_ash.store import _migrate as migrate


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory.mktemp("store")) as url:
        asyncio.run(migrate.upgrade(url))
        yield url


@pytest.fixture
def empty_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database of the same kind with no schema at all (for migration tests)."""
    kind = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    with fresh_database(kind, tmp_path) as url:
        yield url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


async def _new_tenant(db: Database) -> uuid.UUID:
    async with db.transaction() as s:
        return (await repos.tenants.create_tenant(s, name=f"t-{uuid.uuid4().hex[:12]}", actor="test")).id


@pytest.fixture
async def tenant(db: Database) -> uuid.UUID:
    """A tenant of its own for each test, so tests share a database without seeing each other's rows."""
    return await _new_tenant(db)


@pytest.fixture
async def other_tenant(db: Database) -> uuid.UUID:
    return await _new_tenant(db)
