"""What the engine's events leave behind: traces and spans, the LM request log, the LM cache."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from dspy_ash.store._types import JSONType, UTCDateTime
from dspy_ash.store.models._base import Base, TenantOwned


class Trace(TenantOwned, Base):
    """One top-level program execution."""

    __tablename__ = "trace"
    __audited__ = False
    __table_args__ = (
        Index("ix_trace_program_time", "tenant_id", "program_id", "started_at"),
        Index("ix_trace_time", "tenant_id", "started_at"),
    )

    # No FKs to program/version: traces are written off the hot path for programs that may not be
    # stored at all, and retention deletes them independently.
    program_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    version_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    name: Mapped[str] = mapped_column(String(500))
    call_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # ok / error
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration: Mapped[float] = mapped_column(Float)
    inputs: Mapped[Any] = mapped_column(JSONType, nullable=True, default=None)
    outputs: Mapped[Any] = mapped_column(JSONType, nullable=True, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    span_count: Mapped[int] = mapped_column(Integer, default=0)
    total_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float | None] = mapped_column(Float, default=None)


class TraceSpan(TenantOwned, Base):
    """One module call or LM call inside a trace."""

    __tablename__ = "trace_span"
    __audited__ = False
    __table_args__ = (Index("ix_trace_span_trace", "trace_id", "started_at"),)

    trace_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("trace.id", ondelete="CASCADE"))
    call_id: Mapped[str] = mapped_column(String(64))
    parent_call_id: Mapped[str | None] = mapped_column(String(64), default=None)
    kind: Mapped[str] = mapped_column(String(32))  # module / lm / tool
    name: Mapped[str] = mapped_column(String(500))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration: Mapped[float] = mapped_column(Float)
    inputs: Mapped[Any] = mapped_column(JSONType, nullable=True, default=None)
    outputs: Mapped[Any] = mapped_column(JSONType, nullable=True, default=None)
    prompt: Mapped[Any] = mapped_column(JSONType, nullable=True, default=None)  # LM spans: the messages sent
    reply: Mapped[str | None] = mapped_column(Text, default=None)  # LM spans: the first choice
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency: Mapped[float | None] = mapped_column(Float, default=None)
    cost: Mapped[float | None] = mapped_column(Float, default=None)
    cache_hit: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class LMRequestLog(TenantOwned, Base):
    """One LM call as billed: the source of usage statistics per provider, model, program and tenant."""

    __tablename__ = "lm_request"
    __audited__ = False
    __table_args__ = (
        Index("ix_lm_request_time", "tenant_id", "created_at"),
        Index("ix_lm_request_model", "tenant_id", "provider", "model", "created_at"),
    )

    provider: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(200))
    program_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    trace_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    call_id: Mapped[str] = mapped_column(String(64))
    latency: Mapped[float] = mapped_column(Float)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    total_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float | None] = mapped_column(Float, default=None)
    cache_hit: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class LMCacheEntry(TenantOwned, Base):
    __tablename__ = "lm_cache_entry"
    __audited__ = False
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    key: Mapped[str] = mapped_column(String(128))
    namespace: Mapped[str | None] = mapped_column(String(200), default=None)
    value: Mapped[dict[str, Any]] = mapped_column(JSONType)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None, index=True)
