"""Tenants, their API keys, their LM providers and their audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from dspy_ash.store._types import JSONType, UTCDateTime
from dspy_ash.store.models._base import Base, TenantOwned

ROLES = ("admin", "editor", "viewer")


class Tenant(Base):
    __tablename__ = "tenant"

    # A tenant owns itself: the column exists so that every table has one, and equals `id`.
    tenant_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class ApiKey(TenantOwned, Base):
    __tablename__ = "api_key"
    __table_args__ = (CheckConstraint("role IN ('admin', 'editor', 'viewer')", name="role"),)
    __audit_exclude__ = frozenset({"key_hash"})

    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32))  # shown to people to tell keys apart
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the whole key
    role: Mapped[str] = mapped_column(String(16))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)  # to within a minute
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)  # None: never
    rate_limit_per_minute: Mapped[int | None] = mapped_column(Integer, default=None)  # None: the service's
    created_by: Mapped[str | None] = mapped_column(String(200), default=None)  # actor; None before 0003

    @property
    def display(self) -> str:
        """How listings show the key: its prefix and an ellipsis, never more of it."""
        return f"{self.prefix}\u2026"


class LMProvider(TenantOwned, Base):
    __tablename__ = "lm_provider"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        CheckConstraint("secret_ciphertext IS NULL OR secret_env IS NULL", name="one_secret_source"),
        # at most one default per tenant, enforced by the database (a partial index, on both)
        Index(
            "uq_lm_provider_default",
            "tenant_id",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
        ),
    )
    __audit_exclude__ = frozenset({"secret_ciphertext"})

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(64))  # openai_compat, anthropic, ...
    base_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    secret_ciphertext: Mapped[str | None] = mapped_column(Text, default=None)  # Fernet token
    secret_env: Mapped[str | None] = mapped_column(String(200), default=None)  # or: the env var to read
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AuditEvent(TenantOwned, Base):
    """Append-only (the migration installs triggers that refuse UPDATE and DELETE)."""

    __tablename__ = "audit_event"
    __audited__ = False
    __table_args__ = (
        Index("ix_audit_event_resource", "tenant_id", "resource_type", "resource_id", "created_at"),
        Index("ix_audit_event_time", "tenant_id", "created_at", "id"),  # paging the whole trail (0002)
    )

    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)  # the call that made it (0004)
