"""Alembic, run from code: the migration scripts ship inside the package (store/migrations).

Each function opens a connection on the given engine and hands it to Alembic (env.py uses
`config.attributes["connection"]`), so migrations run the same from the CLI, a server's start-up
check and the tests, inside or outside a running event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from dspy_ash.store._engine import create_engine
from dspy_ash.store._errors import SchemaOutOfDateError

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1, f"migrations must have one head, found {heads}"
    return heads[0]


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def upgrade(engine_or_url: AsyncEngine | str | None = None, revision: str = "head") -> str | None:
    """Apply migrations up to `revision`; returns the revision the database is at afterwards."""
    return await _run(engine_or_url, lambda conn: command.upgrade(alembic_config(conn), revision))


async def downgrade(engine_or_url: AsyncEngine | str | None = None, revision: str = "base") -> str | None:
    return await _run(engine_or_url, lambda conn: command.downgrade(alembic_config(conn), revision))


async def check_current(engine: AsyncEngine) -> None:
    at = await current(engine)
    expected = head()
    if at != expected:
        raise SchemaOutOfDateError(current=at, expected=expected)


async def _run(engine_or_url: AsyncEngine | str | None, step: Callable[[Connection], object]) -> str | None:
    engine = engine_or_url if isinstance(engine_or_url, AsyncEngine) else create_engine(engine_or_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(step)
        return await current(engine)
    finally:
        if engine is not engine_or_url:
            await engine.dispose()
