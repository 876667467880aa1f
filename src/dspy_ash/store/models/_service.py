"""What the service keeps besides the resources: idempotent replies, optimizer configs, metric definitions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import CheckConstraint, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dspy_ash.store._types import JSONType
from dspy_ash.store.models._base import Base, TenantOwned

METRIC_KINDS = ("builtin", "lm_judge")


class IdempotencyRecord(TenantOwned, Base):
    """The reply to a request sent with an Idempotency-Key, kept so a retry gets the same reply instead
    of a second change. Not audited: the change it replays was."""

    __tablename__ = "idempotency_record"
    __audited__ = False
    __table_args__ = (
        UniqueConstraint("tenant_id", "action", "key"),
        Index("ix_idempotency_record_time", "created_at"),  # prune by age
    )

    key: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the request, to refuse a reused key
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[Any] = mapped_column(JSONType, nullable=True, default=None)


class OptimizerConfig(TenantOwned, Base):
    """A named, reusable optimizer set-up ("BootstrapFewShot" with its arguments)."""

    __tablename__ = "optimizer_config"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(200))
    optimizer: Mapped[str] = mapped_column(String(200))
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    description: Mapped[str] = mapped_column(Text, default="")


class MetricDefinition(TenantOwned, Base):
    """A named metric: one of the engine's built-in metrics, or an LM judge over one of the tenant's providers."""

    __tablename__ = "metric_definition"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        CheckConstraint("kind IN ('builtin', 'lm_judge')", name="kind"),
    )

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    description: Mapped[str] = mapped_column(Text, default="")
