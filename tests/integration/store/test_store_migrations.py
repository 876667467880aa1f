"""Alembic migrations up and down on both databases, the start-up schema check, and `dspy-ash migrate`."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from typer.testing import CliRunner

from dspy_ash.cli import app
from dspy_ash.store import Database, SchemaOutOfDateError, connect
from dspy_ash.store import _migrate as migrate
from dspy_ash.store.models import Base

TABLES = {
    "signature",
    "module",
    "program",
    "program_version",
    "dataset",
    "example",
    "trace",
    "trace_span",
    "lm_request",
    "lm_cache_entry",
    "optimizer_run",
    "evaluation_run",
    "evaluation_result",
    "lm_provider",
    "tenant",
    "api_key",
    "audit_event",
    "user_account",
    "membership",
    "user_session",
    "idempotency_record",
    "optimizer_config",
    "metric_definition",
}


async def _tables(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    return names - {"alembic_version"}


async def test_upgrade_creates_every_table_and_downgrade_removes_them(empty_database_url: str) -> None:
    async with Database(empty_database_url) as db:
        assert await _tables(db) == set()
        assert await migrate.upgrade(db.engine) == migrate.head()
        assert await _tables(db) == TABLES == set(Base.metadata.tables)
        await db.check_schema()

        assert await migrate.downgrade(db.engine, "base") is None
        assert await _tables(db) == set()
        with pytest.raises(SchemaOutOfDateError):
            await db.check_schema()

        await migrate.upgrade(db.engine)  # and up again: downgrade left nothing behind
        assert await _tables(db) == TABLES


async def test_migrated_schema_matches_the_models(empty_database_url: str) -> None:
    """Autogenerate finds nothing to do: the migration and the typed models describe the same schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    async with Database(empty_database_url) as db:
        await migrate.upgrade(db.engine)
        async with db.engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(c, opts={"compare_type": False}), Base.metadata
                )
            )
    assert diff == []


async def test_start_up_check_refuses_an_unmigrated_database(empty_database_url: str) -> None:
    with pytest.raises(SchemaOutOfDateError, match="dspy-ash migrate"):
        await connect(empty_database_url)
    async with await connect(empty_database_url, check_schema=False) as db:
        await migrate.upgrade(db.engine)
    async with await connect(empty_database_url) as db:
        assert db.dialect in ("sqlite", "postgresql")


def test_cli_migrate_takes_the_database_url(empty_database_url: str) -> None:
    runner = CliRunner()
    status = runner.invoke(app, ["db-status", "--database-url", empty_database_url])
    assert status.exit_code == 1 and "dspy-ash migrate" in status.output
    result = runner.invoke(app, ["migrate", "--database-url", empty_database_url])
    assert result.exit_code == 0, result.output
    assert migrate.head() in result.output
    assert runner.invoke(app, ["db-status", "--database-url", empty_database_url]).exit_code == 0
    down = runner.invoke(
        app, ["migrate", "--down", "--revision", "base", "--database-url", empty_database_url]
    )
    assert down.exit_code == 0 and "base" in down.output


async def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    async with Database(f"sqlite:///{tmp_path / 'wal.db'}") as db:  # a plain sqlite URL gets the async driver
        assert db.url.startswith("sqlite+aiosqlite://")
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1


async def _indexes(db: Database, table: str) -> set[str]:
    async with db.engine.connect() as conn:
        return await conn.run_sync(lambda c: {ix["name"] or "" for ix in inspect(c).get_indexes(table)})


async def test_0002_adds_the_audit_time_index_to_a_database_with_events(empty_database_url: str) -> None:
    """Upgrading a 0001 database that already holds an audit trail keeps every event and adds the index."""
    from dspy_ash.store import repos

    async with Database(empty_database_url) as db:
        assert await migrate.upgrade(db.engine, "0001") == "0001"
        async with db.transaction() as s:
            tenant = await repos.tenants.create_tenant(s, name="before-0002", actor="t")
            for i in range(3):  # signatures: their table is as 0001 made it (the ORM writes every column)
                await repos.signatures.create_signature(
                    s, tenant_id=tenant.id, actor="t", name=f"s{i}", spec="a -> b"
                )
        assert "ix_audit_event_time" not in await _indexes(db, "audit_event")

        assert await migrate.upgrade(db.engine, "0002") == "0002"
        assert "ix_audit_event_time" in await _indexes(db, "audit_event")
        async with db.transaction() as s:
            events = await repos.audit.list_events(s, tenant_id=tenant.id, newest_first=True)
        assert [e.action for e in events] == ["create"] * 4 and events[-1].resource_type == "tenant"

        assert await migrate.downgrade(db.engine, "0001") == "0001"
        assert "ix_audit_event_time" not in await _indexes(db, "audit_event")
        async with db.transaction() as s:  # and the events survive the way down
            assert len(await repos.audit.list_events(s, tenant_id=tenant.id)) == 4


async def _columns(db: Database, table: str) -> set[str]:
    async with db.engine.connect() as conn:
        return await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns(table)})


SERVICE_TABLES = {"user_account", "membership", "user_session", "idempotency_record", "optimizer_config",
                  "metric_definition"}  # fmt: skip
ADDED_COLUMNS = {
    "api_key": {"expires_at", "rate_limit_per_minute", "created_by"},
    "lm_provider": {"is_default"},
    "program": {"serving_version_id"},
}


async def test_0003_goes_down_to_0002_and_up_again_keeping_the_resources(empty_database_url: str) -> None:
    """The way down drops the service tables and columns in place: programs, their versions, keys,
    providers and the audit trail stay (a table rebuild on SQLite would cascade to the versions)."""
    from store_helpers import program_state

    from dspy_ash.store import repos

    async with Database(empty_database_url) as db:
        assert await migrate.upgrade(db.engine) == migrate.head() == "0003"
        async with db.transaction() as s:
            tenant = await repos.tenants.create_tenant(s, name="round-trip", actor="t")
            program = await repos.programs.create_program(
                s, tenant_id=tenant.id, actor="t", name="p", source="a.b:C"
            )
            version = await repos.versions.create_version(
                s, tenant_id=tenant.id, actor="t", program_id=program.id, state=program_state()
            )
            await repos.versions.promote_version(
                s, tenant_id=tenant.id, actor="t", program_id=program.id, version_id=version.id
            )
            provider = await repos.providers.create_provider(
                s, tenant_id=tenant.id, actor="t", name="x", kind="k"
            )
            await repos.providers.set_default_provider(
                s, tenant_id=tenant.id, actor="t", provider_id=provider.id
            )
            await repos.optimizer_configs.create_optimizer_config(
                s, tenant_id=tenant.id, actor="t", name="o", optimizer="BootstrapFewShot"
            )
        events = await _event_count(db)

        assert await migrate.downgrade(db.engine, "0002") == "0002"
        assert await _tables(db) == TABLES - SERVICE_TABLES
        for table, added in ADDED_COLUMNS.items():
            assert not added & await _columns(db, table), table
        assert "uq_lm_provider_default" not in await _indexes(db, "lm_provider")
        async with db.engine.connect() as conn:
            kept = {
                t: (await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()
                for t in ("program", "program_version", "module", "lm_provider")
            }
        assert kept == {"program": 1, "program_version": 1, "module": 2, "lm_provider": 1}
        assert await _event_count(db) == events

        assert await migrate.upgrade(db.engine) == "0003"
        assert await _tables(db) == TABLES
        async with db.transaction() as s:  # back up, the new columns start empty
            serving = await repos.versions.serving_version(s, tenant_id=tenant.id, program_id=program.id)
            assert serving.id == version.id
            assert await repos.providers.get_default_provider(s, tenant_id=tenant.id) is None
            assert await repos.optimizer_configs.list_optimizer_configs(s, tenant_id=tenant.id) == []


async def _event_count(db: Database) -> int:
    async with db.engine.connect() as conn:
        result = await conn.execute(text("SELECT count(*) FROM audit_event"))
        return int(result.scalar_one())
