"""The declarative base and the columns every resource row has: UUID id, tenant, created/updated times."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, MetaData, Uuid
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

from dspy_ash.store._types import UTCDateTime, utcnow

# Named constraints, so migrations can drop and alter them by name on both databases.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)

    # Columns left out of audit snapshots (secrets, bulky state). Subclasses extend it.
    __audit_exclude__: frozenset[str] = frozenset()
    # False for rows without events of their own: parts audited with their owner (a dataset's examples,
    # a version's modules, a run's results) and telemetry (traces, the LM request log and cache).
    __audited__: bool = True

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class TenantOwned:
    """A row that belongs to one tenant. Every query on these tables is filtered by tenant."""

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(Uuid, ForeignKey("tenant.id", ondelete="CASCADE"), index=True)
