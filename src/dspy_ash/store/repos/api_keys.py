"""API keys: stored as a sha256 hash only; the plaintext is returned once, at creation.

Keys are 256 random bits, so a fast hash is the right one (a slow password hash buys nothing
against guessing and costs every request).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._errors import InvalidValueError
from dspy_ash.store._types import utcnow
from dspy_ash.store.models import ROLES, ApiKey
from dspy_ash.store.repos import audit
from dspy_ash.store.repos._base import get_owned, sha256_hex, snapshot, touch

KEY_PREFIX = "dak_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid key speaks for, and its own rate limit (None: the service's default)."""

    tenant_id: uuid.UUID
    api_key_id: uuid.UUID
    role: str
    rate_limit_per_minute: int | None = None

    @property
    def actor(self) -> str:
        return f"api_key:{self.api_key_id}"


def hash_key(token: str) -> str:
    return sha256_hex(token)


async def create_api_key(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    name: str,
    role: str,
    expires_at: datetime | None = None,
    rate_limit_per_minute: int | None = None,
) -> tuple[ApiKey, str]:
    """The row and the plaintext key; the plaintext is not stored anywhere. `expires_at` (aware, in the
    future) ends the key; `rate_limit_per_minute` (positive) overrides the service's default for it."""
    if role not in ROLES:
        raise InvalidValueError("role", f"must be one of {ROLES}, not {role!r}")
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidValueError("expires_at", "must be in the future")
    if rate_limit_per_minute is not None and rate_limit_per_minute < 1:
        raise InvalidValueError("rate_limit_per_minute", "must be at least 1 (or None for the default)")
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        tenant_id=tenant_id,
        name=name,
        prefix=token[: len(KEY_PREFIX) + 6],
        key_hash=hash_key(token),
        role=role,
        expires_at=expires_at,
        rate_limit_per_minute=rate_limit_per_minute,
        created_by=actor,
    )
    session.add(key)
    await audit.record(session, tenant_id=tenant_id, actor=actor, action="create", row=key)
    return key, token


async def authenticate(session: AsyncSession, *, token: str, now: datetime | None = None) -> Principal | None:
    """The principal of a valid key (not revoked, not expired at `now`), else None. Looks across tenants:
    the key names its tenant."""
    key = (
        await session.execute(select(ApiKey).where(ApiKey.key_hash == hash_key(token)))
    ).scalar_one_or_none()
    if key is None or key.revoked_at is not None:
        return None
    if key.expires_at is not None and key.expires_at <= (now or utcnow()):
        return None
    return Principal(
        tenant_id=key.tenant_id,
        api_key_id=key.id,
        role=key.role,
        rate_limit_per_minute=key.rate_limit_per_minute,
    )


async def touch_last_used(session: AsyncSession, *, key_id: uuid.UUID, now: datetime | None = None) -> bool:
    """Record that the key was used: writes `last_used_at` only when it is a minute or more old (or unset),
    so a busy key costs one write a minute, not one per request. Returns whether it wrote. Not audited:
    use is not a change. Call it after `authenticate`, with the principal's key id."""
    return await touch(session, ApiKey, "last_used_at", id=key_id, now=now or utcnow())


async def revoke_api_key(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: str, key_id: uuid.UUID
) -> ApiKey:
    key = await get_owned(session, ApiKey, tenant_id=tenant_id, id=key_id)
    before = snapshot(key)
    key.revoked_at = utcnow()
    await audit.record(session, tenant_id=tenant_id, actor=actor, action="revoke", row=key, before=before)
    return key


async def list_api_keys(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[ApiKey]:
    """The tenant's keys, oldest first; show each as `key.display` (its prefix and an ellipsis)."""
    stmt = select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_at)
    return list((await session.execute(stmt)).scalars())
