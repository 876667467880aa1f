"""Login sessions: a user logged into one tenant, by a random token (cookie) and a CSRF token.

Both tokens are 256 random bits returned once, at creation; only their sha256 hashes are stored. A
session authenticates while it is unexpired and unrevoked, its user enabled and still a member of its
tenant, with the role that membership has now (a role change applies to open sessions at once).
Rows are not audited one by one; logging in ("login") and out ("logout") write events of their own.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._errors import NotFoundError
from dspy_ash.store._types import utcnow
from dspy_ash.store.models import Membership, UserAccount, UserSession
from dspy_ash.store.repos import audit
from dspy_ash.store.repos._base import get_owned, sha256_hex, touch

TOKEN_PREFIX = "das_"
DEFAULT_TTL = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class SessionPrincipal:
    """Who a valid session speaks for. `csrf_hash` is for `check_csrf`, not a secret."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    role: str
    session_id: uuid.UUID
    expires_at: datetime
    csrf_hash: str

    @property
    def actor(self) -> str:
        return f"user:{self.user_id}"


async def create_session(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    user_id: uuid.UUID,
    ttl: timedelta = DEFAULT_TTL,
    now: datetime | None = None,
) -> tuple[UserSession, str, str]:
    """Log a member of the tenant in: (the row, the session token "das_...", the CSRF token). Call it
    after `users.verify_password`. NotFoundError ("membership") unless the user is an enabled member of
    the tenant. Sets the user's `last_login_at`; audited as "login" on the session."""
    at = now or utcnow()
    stmt = (
        select(UserAccount)
        .join(Membership, Membership.user_id == UserAccount.id)
        .where(
            UserAccount.id == user_id, Membership.tenant_id == tenant_id, UserAccount.disabled_at.is_(None)
        )
    )
    user = (await session.execute(stmt)).scalar_one_or_none()
    if user is None:
        raise NotFoundError(Membership.__tablename__, user_id)
    token, csrf = TOKEN_PREFIX + secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    row = UserSession(
        tenant_id=tenant_id,
        user_id=user_id,
        token_hash=sha256_hex(token),
        csrf_hash=sha256_hex(csrf),
        expires_at=at + ttl,
        last_seen_at=at,
    )
    session.add(row)
    user.last_login_at = at
    await session.flush()
    await audit.record_event(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="login",
        resource_type=UserSession.__tablename__,
        resource_id=row.id,
        after={"user_id": str(user_id), "expires_at": row.expires_at.isoformat()},
    )
    return row, token, csrf


async def authenticate_session(
    session: AsyncSession, *, token: str, now: datetime | None = None
) -> SessionPrincipal | None:
    """The principal of a valid session token, else None (unknown, expired, revoked, user disabled or no
    longer a member). Looks across tenants: the session names its tenant."""
    stmt = (
        select(UserSession, Membership.role)
        .join(
            Membership,
            (Membership.tenant_id == UserSession.tenant_id) & (Membership.user_id == UserSession.user_id),
        )
        .join(UserAccount, UserAccount.id == UserSession.user_id)
        .where(
            UserSession.token_hash == sha256_hex(token),
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > (now or utcnow()),
            UserAccount.disabled_at.is_(None),
        )
    )
    found = (await session.execute(stmt)).tuples().one_or_none()
    if found is None:
        return None
    row, role = found
    return SessionPrincipal(
        user_id=row.user_id,
        tenant_id=row.tenant_id,
        role=role,
        session_id=row.id,
        expires_at=row.expires_at,
        csrf_hash=row.csrf_hash,
    )


def check_csrf(user_session: UserSession | SessionPrincipal, *, token: str) -> bool:
    """Whether `token` is the session's CSRF token, compared in constant time."""
    return hmac.compare_digest(sha256_hex(token), user_session.csrf_hash)


async def touch_session(session: AsyncSession, *, session_id: uuid.UUID, now: datetime | None = None) -> bool:
    """Record activity: writes `last_seen_at` only when it is a minute or more old. Returns whether it wrote.
    Call it after `authenticate_session`, with the principal's session id."""
    return await touch(session, UserSession, "last_seen_at", id=session_id, now=now or utcnow())


async def revoke_session(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: str, session_id: uuid.UUID
) -> UserSession:
    """Log out: the token stops authenticating. Audited as "logout"; revoking a revoked session writes nothing."""
    row = await get_owned(session, UserSession, tenant_id=tenant_id, id=session_id, for_update=True)
    if row.revoked_at is None:
        revoked_at = row.revoked_at = utcnow()
        await session.flush()
        await audit.record_event(
            session,
            tenant_id=tenant_id,
            actor=actor,
            action="logout",
            resource_type=UserSession.__tablename__,
            resource_id=row.id,
            before={"revoked_at": None},
            after={"user_id": str(row.user_id), "revoked_at": revoked_at.isoformat()},
        )
    return row
