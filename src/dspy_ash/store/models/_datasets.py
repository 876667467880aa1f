"""Datasets and their examples, each example hashed so a run can record exactly what it used."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from dspy_ash.store._types import JSONType
from dspy_ash.store.models._base import Base, TenantOwned


class Dataset(TenantOwned, Base):
    __tablename__ = "dataset"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    input_keys: Mapped[list[str]] = mapped_column(JSONType, default=list)
    size: Mapped[int] = mapped_column(Integer, default=0)
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str | None] = mapped_column(String(500), default=None)


class ExampleRow(TenantOwned, Base):
    __tablename__ = "example"
    __audited__ = False
    __table_args__ = (
        UniqueConstraint("dataset_id", "position"),
        Index("ix_example_split", "dataset_id", "split", "position"),
    )

    dataset_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("dataset.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    split: Mapped[str | None] = mapped_column(String(16), default=None)  # train / dev / test
    # Plain JSON, not JSONB, so an example's fields keep their order (exports read like the imports).
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
