"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-30 13:18:19.503319
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# JSONB on PostgreSQL, JSON text on SQLite (as dspy_ash.store._types.JSONType)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenant",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant")),
        sa.UniqueConstraint("name", name=op.f("uq_tenant_name")),
    )
    op.create_table(
        "api_key",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('admin', 'editor', 'viewer')", name=op.f("ck_api_key_role")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_api_key_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_key_key_hash")),
    )
    op.create_index(op.f("ix_api_key_tenant_id"), "api_key", ["tenant_id"], unique=False)

    op.create_table(
        "audit_event",
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("resource_type", sa.String(length=64), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("before", JSON, nullable=True),
        sa.Column("after", JSON, nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_audit_event_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index(
        "ix_audit_event_resource",
        "audit_event",
        ["tenant_id", "resource_type", "resource_id", "created_at"],
        unique=False,
    )
    op.create_index(op.f("ix_audit_event_tenant_id"), "audit_event", ["tenant_id"], unique=False)

    op.create_table(
        "dataset",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("input_keys", JSON, nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_dataset_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_dataset_tenant_id")),
    )
    op.create_index(op.f("ix_dataset_tenant_id"), "dataset", ["tenant_id"], unique=False)

    op.create_table(
        "lm_cache_entry",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("namespace", sa.String(length=200), nullable=True),
        sa.Column("value", JSON, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_lm_cache_entry_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lm_cache_entry")),
        sa.UniqueConstraint("tenant_id", "key", name=op.f("uq_lm_cache_entry_tenant_id")),
    )
    op.create_index(op.f("ix_lm_cache_entry_expires_at"), "lm_cache_entry", ["expires_at"], unique=False)
    op.create_index(op.f("ix_lm_cache_entry_tenant_id"), "lm_cache_entry", ["tenant_id"], unique=False)

    op.create_table(
        "lm_provider",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("base_url", sa.String(length=2000), nullable=True),
        sa.Column("config", JSON, nullable=False),
        sa.Column("secret_ciphertext", sa.Text(), nullable=True),
        sa.Column("secret_env", sa.String(length=200), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "secret_ciphertext IS NULL OR secret_env IS NULL", name=op.f("ck_lm_provider_one_secret_source")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_lm_provider_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lm_provider")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_lm_provider_tenant_id")),
    )
    op.create_index(op.f("ix_lm_provider_tenant_id"), "lm_provider", ["tenant_id"], unique=False)

    op.create_table(
        "lm_request",
        sa.Column("provider", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("program_id", sa.Uuid(), nullable=True),
        sa.Column("trace_id", sa.Uuid(), nullable=True),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("latency", sa.Float(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("total_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("cache_hit", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_lm_request_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lm_request")),
    )
    op.create_index(
        "ix_lm_request_model", "lm_request", ["tenant_id", "provider", "model", "created_at"], unique=False
    )
    op.create_index(op.f("ix_lm_request_tenant_id"), "lm_request", ["tenant_id"], unique=False)
    op.create_index("ix_lm_request_time", "lm_request", ["tenant_id", "created_at"], unique=False)

    op.create_table(
        "program",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=True),
        sa.Column("spec", JSON, nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('code', 'declarative')", name=op.f("ck_program_kind")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_program_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_program")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_program_tenant_id")),
    )
    op.create_index(op.f("ix_program_tenant_id"), "program", ["tenant_id"], unique=False)

    op.create_table(
        "signature",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_signature_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signature")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_signature_tenant_id")),
    )
    op.create_index(op.f("ix_signature_tenant_id"), "signature", ["tenant_id"], unique=False)

    op.create_table(
        "trace",
        sa.Column("program_id", sa.Uuid(), nullable=True),
        sa.Column("version_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("inputs", JSON, nullable=True),
        sa.Column("outputs", JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("span_count", sa.Integer(), nullable=False),
        sa.Column("total_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_trace_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace")),
    )
    op.create_index("ix_trace_program_time", "trace", ["tenant_id", "program_id", "started_at"], unique=False)
    op.create_index(op.f("ix_trace_tenant_id"), "trace", ["tenant_id"], unique=False)
    op.create_index("ix_trace_time", "trace", ["tenant_id", "started_at"], unique=False)

    op.create_table(
        "example",
        sa.Column("dataset_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("split", sa.String(length=16), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"], ["dataset.id"], name=op.f("fk_example_dataset_id_dataset"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_example_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_example")),
        sa.UniqueConstraint("dataset_id", "position", name=op.f("uq_example_dataset_id")),
    )
    op.create_index("ix_example_split", "example", ["dataset_id", "split", "position"], unique=False)
    op.create_index(op.f("ix_example_tenant_id"), "example", ["tenant_id"], unique=False)

    op.create_table(
        "program_version",
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("optimizer_run_id", sa.Uuid(), nullable=True),
        sa.Column("dataset_id", sa.Uuid(), nullable=True),
        sa.Column("dataset_hash", sa.String(length=64), nullable=True),
        sa.Column("metric", sa.String(length=200), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("scores", JSON, nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_program_version_dataset_id_dataset"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["program_version.id"],
            name=op.f("fk_program_version_parent_id_program_version"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["program.id"],
            name=op.f("fk_program_version_program_id_program"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_program_version_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_program_version")),
        sa.UniqueConstraint("program_id", "number", name=op.f("uq_program_version_program_id")),
    )
    op.create_index(
        "ix_program_version_best", "program_version", ["tenant_id", "program_id", "score"], unique=False
    )
    op.create_index(
        op.f("ix_program_version_content_hash"), "program_version", ["content_hash"], unique=False
    )
    op.create_index(
        op.f("ix_program_version_optimizer_run_id"), "program_version", ["optimizer_run_id"], unique=False
    )
    op.create_index(op.f("ix_program_version_tenant_id"), "program_version", ["tenant_id"], unique=False)

    op.create_table(
        "trace_span",
        sa.Column("trace_id", sa.Uuid(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("parent_call_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("inputs", JSON, nullable=True),
        sa.Column("outputs", JSON, nullable=True),
        sa.Column("prompt", JSON, nullable=True),
        sa.Column("reply", sa.Text(), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("latency", sa.Float(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("cache_hit", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_trace_span_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["trace_id"], ["trace.id"], name=op.f("fk_trace_span_trace_id_trace"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trace_span")),
    )
    op.create_index(op.f("ix_trace_span_tenant_id"), "trace_span", ["tenant_id"], unique=False)
    op.create_index("ix_trace_span_trace", "trace_span", ["trace_id", "started_at"], unique=False)

    op.create_table(
        "evaluation_run",
        sa.Column("version_id", sa.Uuid(), nullable=True),
        sa.Column("split", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dataset_hash", sa.String(length=64), nullable=True),
        sa.Column("config", JSON, nullable=False),
        sa.Column("metric", sa.String(length=200), nullable=True),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("progress_message", sa.Text(), nullable=False),
        sa.Column("trials", JSON, nullable=False),
        sa.Column("checkpoint", JSON, nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("dataset_id", sa.Uuid(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')",
            name=op.f("ck_evaluation_run_status"),
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_evaluation_run_dataset_id_dataset"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["program.id"],
            name=op.f("fk_evaluation_run_program_id_program"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_evaluation_run_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["program_version.id"],
            name=op.f("fk_evaluation_run_version_id_program_version"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_run")),
    )
    op.create_index(
        "ix_evaluation_run_status", "evaluation_run", ["tenant_id", "status", "created_at"], unique=False
    )
    op.create_index(op.f("ix_evaluation_run_tenant_id"), "evaluation_run", ["tenant_id"], unique=False)

    op.create_table(
        "module",
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("signature_id", sa.Uuid(), nullable=True),
        sa.Column("config", JSON, nullable=False),
        sa.Column("state", JSON, nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["program_id"], ["program.id"], name=op.f("fk_module_program_id_program"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["signature_id"],
            ["signature.id"],
            name=op.f("fk_module_signature_id_signature"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_module_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["program_version.id"],
            name=op.f("fk_module_version_id_program_version"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_module")),
        sa.UniqueConstraint("version_id", "name", name=op.f("uq_module_version_id")),
    )
    op.create_index(op.f("ix_module_program_id"), "module", ["program_id"], unique=False)
    op.create_index(op.f("ix_module_tenant_id"), "module", ["tenant_id"], unique=False)

    op.create_table(
        "optimizer_run",
        sa.Column("optimizer", sa.String(length=200), nullable=False),
        sa.Column("base_version_id", sa.Uuid(), nullable=True),
        sa.Column("result_version_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("dataset_hash", sa.String(length=64), nullable=True),
        sa.Column("config", JSON, nullable=False),
        sa.Column("metric", sa.String(length=200), nullable=True),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("progress_message", sa.Text(), nullable=False),
        sa.Column("trials", JSON, nullable=False),
        sa.Column("checkpoint", JSON, nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("program_id", sa.Uuid(), nullable=False),
        sa.Column("dataset_id", sa.Uuid(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')",
            name=op.f("ck_optimizer_run_status"),
        ),
        sa.ForeignKeyConstraint(
            ["base_version_id"],
            ["program_version.id"],
            name=op.f("fk_optimizer_run_base_version_id_program_version"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_optimizer_run_dataset_id_dataset"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["program.id"],
            name=op.f("fk_optimizer_run_program_id_program"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["result_version_id"],
            ["program_version.id"],
            name=op.f("fk_optimizer_run_result_version_id_program_version"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenant.id"], name=op.f("fk_optimizer_run_tenant_id_tenant"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_optimizer_run")),
    )
    op.create_index(
        "ix_optimizer_run_status", "optimizer_run", ["tenant_id", "status", "created_at"], unique=False
    )
    op.create_index(op.f("ix_optimizer_run_tenant_id"), "optimizer_run", ["tenant_id"], unique=False)

    op.create_table(
        "evaluation_result",
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("example_id", sa.Uuid(), nullable=True),
        sa.Column("prediction", JSON, nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("trace_id", sa.Uuid(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["example_id"],
            ["example.id"],
            name=op.f("fk_evaluation_result_example_id_example"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["evaluation_run.id"],
            name=op.f("fk_evaluation_result_run_id_evaluation_run"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenant.id"],
            name=op.f("fk_evaluation_result_tenant_id_tenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_result")),
        sa.UniqueConstraint("run_id", "position", name=op.f("uq_evaluation_result_run_id")),
    )
    op.create_index(op.f("ix_evaluation_result_tenant_id"), "evaluation_result", ["tenant_id"], unique=False)
    _guard_rows()


def downgrade() -> None:
    _drop_guards()
    op.drop_index(op.f("ix_evaluation_result_tenant_id"), table_name="evaluation_result")
    op.drop_table("evaluation_result")
    op.drop_index(op.f("ix_optimizer_run_tenant_id"), table_name="optimizer_run")
    op.drop_index("ix_optimizer_run_status", table_name="optimizer_run")
    op.drop_table("optimizer_run")
    op.drop_index(op.f("ix_module_tenant_id"), table_name="module")
    op.drop_index(op.f("ix_module_program_id"), table_name="module")
    op.drop_table("module")
    op.drop_index(op.f("ix_evaluation_run_tenant_id"), table_name="evaluation_run")
    op.drop_index("ix_evaluation_run_status", table_name="evaluation_run")
    op.drop_table("evaluation_run")
    op.drop_index("ix_trace_span_trace", table_name="trace_span")
    op.drop_index(op.f("ix_trace_span_tenant_id"), table_name="trace_span")
    op.drop_table("trace_span")
    op.drop_index(op.f("ix_program_version_tenant_id"), table_name="program_version")
    op.drop_index(op.f("ix_program_version_optimizer_run_id"), table_name="program_version")
    op.drop_index(op.f("ix_program_version_content_hash"), table_name="program_version")
    op.drop_index("ix_program_version_best", table_name="program_version")
    op.drop_table("program_version")
    op.drop_index(op.f("ix_example_tenant_id"), table_name="example")
    op.drop_index("ix_example_split", table_name="example")
    op.drop_table("example")
    op.drop_index("ix_trace_time", table_name="trace")
    op.drop_index(op.f("ix_trace_tenant_id"), table_name="trace")
    op.drop_index("ix_trace_program_time", table_name="trace")
    op.drop_table("trace")
    op.drop_index(op.f("ix_signature_tenant_id"), table_name="signature")
    op.drop_table("signature")
    op.drop_index(op.f("ix_program_tenant_id"), table_name="program")
    op.drop_table("program")
    op.drop_index("ix_lm_request_time", table_name="lm_request")
    op.drop_index(op.f("ix_lm_request_tenant_id"), table_name="lm_request")
    op.drop_index("ix_lm_request_model", table_name="lm_request")
    op.drop_table("lm_request")
    op.drop_index(op.f("ix_lm_provider_tenant_id"), table_name="lm_provider")
    op.drop_table("lm_provider")
    op.drop_index(op.f("ix_lm_cache_entry_tenant_id"), table_name="lm_cache_entry")
    op.drop_index(op.f("ix_lm_cache_entry_expires_at"), table_name="lm_cache_entry")
    op.drop_table("lm_cache_entry")
    op.drop_index(op.f("ix_dataset_tenant_id"), table_name="dataset")
    op.drop_table("dataset")
    op.drop_index(op.f("ix_audit_event_tenant_id"), table_name="audit_event")
    op.drop_index("ix_audit_event_resource", table_name="audit_event")
    op.drop_table("audit_event")
    op.drop_index(op.f("ix_api_key_tenant_id"), table_name="api_key")
    op.drop_table("api_key")
    op.drop_table("tenant")


# The database itself refuses to rewrite history: audit events are append-only and a program version's
# content is immutable. (Foreign keys may still be cleared by ON DELETE SET NULL when a parent version or
# a dataset is deleted; that changes provenance links, not what the version is.)
_IMMUTABLE_VERSION_COLUMNS = (
    "program_id",
    "number",
    "state",
    "content_hash",
    "score",
    "scores",
    "metric",
    "optimizer_run_id",
    "dataset_hash",
    "tenant_id",
)
_GUARDS = {
    "audit_event_append_only_update": ("audit_event", "UPDATE", "audit_event is append-only", ()),
    "audit_event_append_only_delete": ("audit_event", "DELETE", "audit_event is append-only", ()),
    "program_version_immutable": (
        "program_version",
        "UPDATE",
        "program_version is immutable",
        _IMMUTABLE_VERSION_COLUMNS,
    ),
}


def _guard_rows() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(
            "CREATE FUNCTION dspy_ash_refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION '%', TG_ARGV[0]; END $$"
        )
    # PostgreSQL has no equality for `json` (the state column), so compare the text of every column.
    changed = "OLD.{c}::text IS DISTINCT FROM NEW.{c}::text" if postgres else "OLD.{c} IS NOT NEW.{c}"
    for name, (table, verb, message, columns) in _GUARDS.items():
        when = " OR ".join(changed.format(c=c) for c in columns)
        if postgres:
            when_clause = f"WHEN ({when}) " if when else ""
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {verb} ON {table} FOR EACH ROW {when_clause}"
                f"EXECUTE FUNCTION dspy_ash_refuse('{message}')"
            )
        else:
            when_clause = f"WHEN {when} " if when else ""
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {verb} ON {table} FOR EACH ROW {when_clause}"
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )


def _drop_guards() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for name, (table, *_rest) in _GUARDS.items():
        op.execute(f"DROP TRIGGER {name} ON {table}" if postgres else f"DROP TRIGGER {name}")
    if postgres:
        op.execute("DROP FUNCTION dspy_ash_refuse()")
