"""service tables: users, memberships, login sessions, idempotency records, optimizer configs, metric
definitions; API key expiry and rate limit, a default LM provider, a program's serving version

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 13:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON text on SQLite (as dspy_ash.store._types.JSONType)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _row_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenant.id"], name=op.f(f"fk_{table}_tenant_id_tenant"), ondelete="CASCADE"
    )


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["user_account.id"], name=op.f(f"fk_{table}_user_id_user_account"), ondelete="CASCADE"
    )


def upgrade() -> None:
    _create_people()
    _create_service_tables()
    # Only ADD COLUMN and CREATE INDEX on existing tables: SQLite does both in place. Anything that made
    # Alembic rebuild a table (copy, drop, rename) would, with foreign keys on, cascade the drop of
    # `program` to its versions.
    op.add_column("api_key", sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_key", sa.Column("rate_limit_per_minute", sa.Integer(), nullable=True))
    op.add_column("api_key", sa.Column("created_by", sa.String(length=200), nullable=True))
    op.add_column(
        "lm_provider", sa.Column("is_default", sa.Boolean(), server_default=sa.false(), nullable=False)
    )
    op.create_index(
        "uq_lm_provider_default",
        "lm_provider",
        ["tenant_id"],
        unique=True,
        sqlite_where=sa.text("is_default"),
        postgresql_where=sa.text("is_default"),
    )
    op.add_column("program", sa.Column("serving_version_id", sa.Uuid(), nullable=True))


def _create_people() -> None:
    op.create_table(
        "user_account",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        *_row_columns(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("email", name=op.f("uq_user_account_email")),
    )
    op.create_table(
        "membership",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        *_row_columns(),
        sa.CheckConstraint("role IN ('admin', 'editor', 'viewer')", name=op.f("ck_membership_role")),
        _tenant_fk("membership"),
        _user_fk("membership"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership")),
        sa.UniqueConstraint("tenant_id", "user_id", name=op.f("uq_membership_tenant_id")),
    )
    op.create_index(op.f("ix_membership_tenant_id"), "membership", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_membership_user_id"), "membership", ["user_id"], unique=False)
    op.create_table(
        "user_session",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("csrf_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        *_row_columns(),
        _tenant_fk("user_session"),
        _user_fk("user_session"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_session_token_hash")),
    )
    op.create_index(op.f("ix_user_session_tenant_id"), "user_session", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_user_session_user_id"), "user_session", ["user_id"], unique=False)


def _create_service_tables() -> None:
    op.create_table(
        "idempotency_record",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", JSON, nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        *_row_columns(),
        _tenant_fk("idempotency_record"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_record")),
        sa.UniqueConstraint("tenant_id", "action", "key", name=op.f("uq_idempotency_record_tenant_id")),
    )
    op.create_index(
        op.f("ix_idempotency_record_tenant_id"), "idempotency_record", ["tenant_id"], unique=False
    )
    op.create_index("ix_idempotency_record_time", "idempotency_record", ["created_at"], unique=False)
    _create_named_config("optimizer_config", sa.Column("optimizer", sa.String(length=200), nullable=False))
    _create_named_config(
        "metric_definition",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.CheckConstraint("kind IN ('builtin', 'lm_judge')", name=op.f("ck_metric_definition_kind")),
    )


def _create_named_config(table: str, *what: sa.Column[object] | sa.CheckConstraint) -> None:
    """optimizer_config and metric_definition: a name unique in the tenant, what it is, a config, a description."""
    op.create_table(
        table,
        sa.Column("name", sa.String(length=200), nullable=False),
        *what,
        sa.Column("config", JSON, nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        *_row_columns(),
        _tenant_fk(table),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f(f"uq_{table}_tenant_id")),
    )
    op.create_index(op.f(f"ix_{table}_tenant_id"), table, ["tenant_id"], unique=False)


def downgrade() -> None:
    # DROP COLUMN in place (SQLite 3.35+), not Alembic's table rebuild: see upgrade().
    op.drop_column("program", "serving_version_id")
    op.drop_index("uq_lm_provider_default", table_name="lm_provider")
    op.drop_column("lm_provider", "is_default")
    op.drop_column("api_key", "created_by")
    op.drop_column("api_key", "rate_limit_per_minute")
    op.drop_column("api_key", "expires_at")
    for table in ("metric_definition", "optimizer_config"):
        op.drop_index(op.f(f"ix_{table}_tenant_id"), table_name=table)
        op.drop_table(table)
    op.drop_index("ix_idempotency_record_time", table_name="idempotency_record")
    op.drop_index(op.f("ix_idempotency_record_tenant_id"), table_name="idempotency_record")
    op.drop_table("idempotency_record")
    for table in ("user_session", "membership"):
        op.drop_index(op.f(f"ix_{table}_user_id"), table_name=table)
        op.drop_index(op.f(f"ix_{table}_tenant_id"), table_name=table)
        op.drop_table(table)
    op.drop_table("user_account")
