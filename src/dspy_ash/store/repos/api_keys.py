"""API keys: stored as a sha256 hash only; the plaintext is returned once, at creation.

Keys are 256 random bits, so a fast hash is the right one (a slow password hash buys nothing
against guessing and costs every request).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._types import utcnow
from dspy_ash.store.models import ROLES, ApiKey
from dspy_ash.store.repos import audit
from dspy_ash.store.repos._base import get_owned, snapshot

KEY_PREFIX = "dak_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid key speaks for."""

    tenant_id: uuid.UUID
    api_key_id: uuid.UUID
    role: str

    @property
    def actor(self) -> str:
        return f"api_key:{self.api_key_id}"


def hash_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_api_key(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: str, name: str, role: str
) -> tuple[ApiKey, str]:
    """The row and the plaintext key; the plaintext is not stored anywhere."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, not {role!r}")
    token = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        tenant_id=tenant_id,
        name=name,
        prefix=token[: len(KEY_PREFIX) + 6],
        key_hash=hash_key(token),
        role=role,
    )
    session.add(key)
    await audit.record(session, tenant_id=tenant_id, actor=actor, action="create", row=key)
    return key, token


async def authenticate(session: AsyncSession, *, token: str) -> Principal | None:
    """The principal of a valid, unrevoked key, else None. Looks across tenants: the key names its tenant."""
    key = (
        await session.execute(select(ApiKey).where(ApiKey.key_hash == hash_key(token)))
    ).scalar_one_or_none()
    if key is None or key.revoked_at is not None:
        return None
    return Principal(tenant_id=key.tenant_id, api_key_id=key.id, role=key.role)


async def revoke_api_key(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: str, key_id: uuid.UUID
) -> ApiKey:
    key = await get_owned(session, ApiKey, tenant_id=tenant_id, id=key_id)
    before = snapshot(key)
    key.revoked_at = utcnow()
    await audit.record(session, tenant_id=tenant_id, actor=actor, action="revoke", row=key, before=before)
    return key


async def list_api_keys(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[ApiKey]:
    stmt = select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.created_at)
    return list((await session.execute(stmt)).scalars())
