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
    """Upgrading a 0001 database that already holds an audit trail keeps every event and adds the index.
    Rows are written in SQL: today's models have columns (audit_event.request_id) that 0001 lacks."""
    import uuid

    tenant = uuid.uuid4()
    async with Database(empty_database_url) as db:
        assert await migrate.upgrade(db.engine, "0001") == "0001"

        def ident(u: uuid.UUID) -> object:  # how the Uuid type stores ids: hex text on SQLite
            return u.hex if db.dialect == "sqlite" else u

        async with db.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO tenant (id, tenant_id, name, created_at, updated_at)"
                    " VALUES (:t, :t, 'before-0002', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"t": ident(tenant)},
            )
            for _ in range(4):
                await conn.execute(
                    text(
                        "INSERT INTO audit_event (id, tenant_id, created_at, updated_at, actor, action,"
                        " resource_type, resource_id) VALUES (:id, :t, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP,"
                        " 't', 'create', 'tenant', :t)"
                    ),
                    {"id": ident(uuid.uuid4()), "t": ident(tenant)},
                )
        assert "ix_audit_event_time" not in await _indexes(db, "audit_event")

        assert await migrate.upgrade(db.engine, "0002") == "0002"
        assert "ix_audit_event_time" in await _indexes(db, "audit_event")
        assert await _event_count(db) == 4

        assert await migrate.downgrade(db.engine, "0001") == "0001"
        assert "ix_audit_event_time" not in await _indexes(db, "audit_event")
        assert await _event_count(db) == 4  # and the events survive the way down


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


async def test_0004_adds_the_request_id_and_goes_back_keeping_the_trail(empty_database_url: str) -> None:
    """ADD and DROP COLUMN in place: the append-only triggers survive both ways (a rebuild would drop them)."""
    from dspy_ash.store import repos

    async with Database(empty_database_url) as db:
        assert await migrate.upgrade(db.engine) == migrate.head() == "0005"
        with repos.audit.request_scope("req-1"):
            async with db.transaction() as s:
                tenant = await repos.tenants.create_tenant(s, name="rid", actor="t")
        async with db.transaction() as s:
            [event] = await repos.audit.list_events(s, tenant_id=tenant.id)
        assert event.request_id == "req-1"
        assert await migrate.downgrade(db.engine, "0003") == "0003"
        assert "request_id" not in await _columns(db, "audit_event")
        assert await _event_count(db) == 1
        for statement in ("UPDATE audit_event SET actor = 'x'", "DELETE FROM audit_event"):
            with pytest.raises(Exception, match=r"(?i)append-only|audit"):
                async with db.engine.begin() as conn:
                    await conn.execute(text(statement))
        assert await migrate.upgrade(db.engine, "0004") == "0004"


async def test_0003_goes_down_to_0002_and_up_again_keeping_the_resources(empty_database_url: str) -> None:
    """The way down drops the service tables and columns in place: programs, their versions, keys,
    providers and the audit trail stay (a table rebuild on SQLite would cascade to the versions)."""
    from store_helpers import program_state

    from dspy_ash.store import repos

    async with Database(empty_database_url) as db:
        assert await migrate.upgrade(db.engine) == migrate.head()
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

        assert await migrate.upgrade(db.engine) == migrate.head()
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
