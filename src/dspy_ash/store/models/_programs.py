"""Programs, their immutable versions, and the signatures and modules (predictors) inside them."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import (
    JSON,
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
from sqlalchemy.orm import Mapped, mapped_column

from dspy_ash.store._types import JSONType
from dspy_ash.store.models._base import Base, TenantOwned


class SignatureRow(TenantOwned, Base):
    __tablename__ = "signature"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[str] = mapped_column(Text)  # "question, context -> answer: str"
    instructions: Mapped[str] = mapped_column(Text, default="")
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)


class Program(TenantOwned, Base):
    __tablename__ = "program"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        CheckConstraint("kind IN ('code', 'declarative')", name="kind"),
    )

    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(500), default=None)  # "pkg.mod:Class" for code programs
    spec: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)  # declarative programs
    description: Mapped[str] = mapped_column(Text, default="")
    # The version the service runs (`promote_version`); None: the latest. No FK, for the reason
    # program_version.optimizer_run_id has none: program_version points here, and a cycle of foreign keys
    # cannot be created on SQLite without rebuilding a table. The repository checks it is this program's.
    serving_version_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)


class ProgramVersion(TenantOwned, Base):
    """Immutable (the migration installs a trigger refusing UPDATE). `state` is DSPy's saved JSON, verbatim."""

    __tablename__ = "program_version"
    __table_args__ = (
        UniqueConstraint("program_id", "number"),
        Index("ix_program_version_best", "tenant_id", "program_id", "score"),
    )
    __audit_exclude__ = frozenset({"state"})

    program_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("program.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("program_version.id", ondelete="SET NULL"), default=None
    )
    # The run that made it. No FK: optimizer_run also points here (result_version_id) and a cycle of
    # foreign keys cannot be created on SQLite without rebuilding a table.
    optimizer_run_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None, index=True)
    dataset_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("dataset.id", ondelete="SET NULL"), default=None
    )
    dataset_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    metric: Mapped[str | None] = mapped_column(String(200), default=None)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    scores: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # per split / per metric
    # Plain JSON, not JSONB: JSONB reorders keys, and the saved state is kept exactly as DSPy wrote it.
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    note: Mapped[str] = mapped_column(Text, default="")


class ModuleRow(TenantOwned, Base):
    """One predictor of a program version: its parameter path, type, signature, config and saved state."""

    __tablename__ = "module"
    __audited__ = False
    __table_args__ = (UniqueConstraint("version_id", "name"),)
    __audit_exclude__ = frozenset({"state"})

    program_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("program.id", ondelete="CASCADE"), index=True
    )
    version_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("program_version.id", ondelete="CASCADE"), default=None
    )
    name: Mapped[str] = mapped_column(String(500))  # "qa.predict", "tools[0]"
    type: Mapped[str] = mapped_column(String(64), default="predict")
    signature_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("signature.id", ondelete="SET NULL"), default=None
    )
    config: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    state: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
