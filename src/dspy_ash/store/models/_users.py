"""People: user accounts, their memberships of tenants, and their login sessions."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from dspy_ash.store._types import UTCDateTime
from dspy_ash.store.models._base import Base, TenantOwned


class UserAccount(Base):
    """A person who logs in. Not tenant-owned: one account may be a member of several tenants
    (`membership` says which, with which role), so the row cannot carry a single `tenant_id`. Its
    changes are audited in the tenant where they are made (the repository is told which); reads and
    lookups by email look across tenants on purpose, and callers check membership for access."""

    __tablename__ = "user_account"
    __audit_exclude__ = frozenset({"password_hash"})

    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored stripped and lower-cased
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, PHC string format
    display_name: Mapped[str] = mapped_column(String(200), default="")
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class Membership(TenantOwned, Base):
    """A user's role in one tenant (the same roles as an API key's)."""

    __tablename__ = "membership"
    __table_args__ = (
        UniqueConstraint("tenant_id", "user_id"),
        CheckConstraint("role IN ('admin', 'editor', 'viewer')", name="role"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))


class UserSession(TenantOwned, Base):
    """A login: the tenant is the one the session is logged into. Only hashes of the session token and
    of its CSRF token are kept. Not audited as rows (each request would be a change); logging in and
    out write events of their own."""

    __tablename__ = "user_session"
    __audited__ = False
    __audit_exclude__ = frozenset({"token_hash", "csrf_hash"})

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the session token
    csrf_hash: Mapped[str] = mapped_column(String(64))  # sha256 hex of the CSRF token
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
