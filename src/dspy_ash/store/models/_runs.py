"""Optimizer and evaluation runs (one state machine, shared columns) and per-example evaluation results."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from dspy_ash.store._types import JSONType, UTCDateTime
from dspy_ash.store.models._base import Base, TenantOwned

RUN_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
_STATUS_CHECK = "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')"


class RunColumns(TenantOwned):
    """What optimizer and evaluation runs both have."""

    __audit_exclude__ = frozenset({"checkpoint", "trials", "traceback", "lease_until"})

    @declared_attr
    def program_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(Uuid, ForeignKey("program.id", ondelete="CASCADE"))

    @declared_attr
    def dataset_id(cls) -> Mapped[uuid.UUID | None]:
        return mapped_column(Uuid, ForeignKey("dataset.id", ondelete="SET NULL"), default=None)

    status: Mapped[str] = mapped_column(String(16), default="queued")
    dataset_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    metric: Mapped[str | None] = mapped_column(String(200), default=None)
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1
    progress_message: Mapped[str] = mapped_column(Text, default="")
    trials: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)  # per-trial scores
    checkpoint: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # key -> optimizer state
    score: Mapped[float | None] = mapped_column(Float, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    traceback: Mapped[str | None] = mapped_column(Text, default=None)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # the worker running it and until when its claim holds (jobs/: a dead worker's run is claimed again)
    owner: Mapped[str | None] = mapped_column(String(200), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class OptimizerRun(RunColumns, Base):
    __tablename__ = "optimizer_run"
    __table_args__ = (
        CheckConstraint(_STATUS_CHECK, name="status"),
        Index("ix_optimizer_run_status", "tenant_id", "status", "created_at"),
        Index("ix_optimizer_run_lease", "status", "lease_until"),
    )

    optimizer: Mapped[str] = mapped_column(String(200))
    base_version_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("program_version.id", ondelete="SET NULL"), default=None
    )
    result_version_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("program_version.id", ondelete="SET NULL"), default=None
    )


class EvaluationRun(RunColumns, Base):
    __tablename__ = "evaluation_run"
    __table_args__ = (
        CheckConstraint(_STATUS_CHECK, name="status"),
        Index("ix_evaluation_run_status", "tenant_id", "status", "created_at"),
        Index("ix_evaluation_run_lease", "status", "lease_until"),
    )

    version_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("program_version.id", ondelete="SET NULL"), default=None
    )
    split: Mapped[str | None] = mapped_column(String(16), default=None)


class EvaluationResultRow(TenantOwned, Base):
    __tablename__ = "evaluation_result"
    __audited__ = False
    __table_args__ = (UniqueConstraint("run_id", "position"),)

    run_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("evaluation_run.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    example_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("example.id", ondelete="SET NULL"), default=None
    )
    prediction: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    trace_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
