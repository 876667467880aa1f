"""LM providers of a tenant. The secret is either encrypted at rest or the name of an environment variable.

No function here returns the secret or the ciphertext: callers get `ProviderInfo`. The one way to
the plaintext is `resolve_api_key`, which hands back a pydantic `SecretStr` (its repr and str are
masked) for building an LM client.

An environment variable name is checked against the operator's allow-list (store.env_allow) when it
is stored and again when it is resolved; `env_allow` passes the list explicitly (a service passes its
configuration), None reads DSPY_ASH_PROVIDER_ENV_ALLOW.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.settings import env
from dspy_ash.store import _crypto as crypto
from dspy_ash.store._env_allow import EnvAllowList
from dspy_ash.store._errors import ConflictError, InvalidValueError, StoreError
from dspy_ash.store.models import LMProvider
from dspy_ash.store.repos import audit
from dspy_ash.store.repos._base import get_owned, snapshot


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    kind: str
    base_url: str | None
    config: dict[str, Any]
    has_stored_secret: bool
    secret_env: str | None
    is_default: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: LMProvider) -> ProviderInfo:
        return cls(
            id=row.id,
            tenant_id=row.tenant_id,
            name=row.name,
            kind=row.kind,
            base_url=row.base_url,
            config=dict(row.config),
            has_stored_secret=row.secret_ciphertext is not None,
            secret_env=row.secret_env,
            is_default=row.is_default,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


async def create_provider(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    name: str,
    kind: str,
    base_url: str | None = None,
    config: dict[str, Any] | None = None,
    api_key: str | SecretStr | None = None,
    api_key_env: str | None = None,
    secret_key: str | None = None,
    env_allow: Sequence[str] | None = None,
) -> ProviderInfo:
    """`api_key` is encrypted with `secret_key` (else DSPY_ASH_SECRET_KEY); `api_key_env` is stored as a
    name, which the allow-list must allow (EnvNotAllowedError otherwise)."""
    _check_secret_source(api_key, api_key_env, env_allow, custom_endpoint=base_url is not None)
    row = LMProvider(
        tenant_id=tenant_id,
        name=name,
        kind=kind,
        base_url=base_url,
        config=config or {},
        secret_ciphertext=_encrypt(api_key, secret_key),
        secret_env=api_key_env,
    )
    await audit.create_named(
        session, row, tenant_id=tenant_id, actor=actor, name=name, noun="provider", resource="lm_provider"
    )
    return ProviderInfo.of(row)


async def set_secret(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    provider_id: uuid.UUID,
    api_key: str | SecretStr | None = None,
    api_key_env: str | None = None,
    secret_key: str | None = None,
    env_allow: Sequence[str] | None = None,
) -> ProviderInfo:
    """Replace the secret (or clear it when both are None)."""
    row = await get_owned(session, LMProvider, tenant_id=tenant_id, id=provider_id)
    _check_secret_source(api_key, api_key_env, env_allow, custom_endpoint=row.base_url is not None)
    before = snapshot(row)
    row.secret_ciphertext = _encrypt(api_key, secret_key)
    row.secret_env = api_key_env
    await audit.record(session, tenant_id=tenant_id, actor=actor, action="set_secret", row=row, before=before)
    return ProviderInfo.of(row)


async def update_provider(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    provider_id: uuid.UUID,
    name: str | None = None,
    base_url: str | None = None,
    config: dict[str, Any] | None = None,
) -> ProviderInfo:
    """Change what is given (None keeps it); the secret changes only through `set_secret`. A taken name
    is a ConflictError."""
    row = await get_owned(session, LMProvider, tenant_id=tenant_id, id=provider_id)
    before = snapshot(row)
    if name is not None:
        row.name = name
    if base_url is not None:
        row.base_url = base_url
    if config is not None:
        row.config = config
    try:
        await audit.record(session, tenant_id=tenant_id, actor=actor, action="update", row=row, before=before)
    except IntegrityError as exc:
        raise ConflictError(f"a provider named {name!r} exists", resource="lm_provider") from exc
    return ProviderInfo.of(row)


async def get_provider(
    session: AsyncSession, *, tenant_id: uuid.UUID, provider_id: uuid.UUID
) -> ProviderInfo:
    return ProviderInfo.of(await get_owned(session, LMProvider, tenant_id=tenant_id, id=provider_id))


async def list_providers(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[ProviderInfo]:
    stmt = select(LMProvider).where(LMProvider.tenant_id == tenant_id).order_by(LMProvider.name)
    return [ProviderInfo.of(row) for row in (await session.execute(stmt)).scalars()]


async def set_default_provider(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: str, provider_id: uuid.UUID | None
) -> ProviderInfo | None:
    """Make the provider the tenant's default, or (None) leave the tenant without one. The old default is
    cleared first, in the same transaction ("unset_default" on it, "set_default" on the new one); a
    partial unique index keeps it to one per tenant, so a concurrent change is a ConflictError."""
    new = None
    if provider_id is not None:
        new = await get_owned(session, LMProvider, tenant_id=tenant_id, id=provider_id, for_update=True)
    stmt = (
        select(LMProvider)
        .where(LMProvider.tenant_id == tenant_id, LMProvider.is_default.is_(True))
        .with_for_update()
    )
    try:
        for old in list((await session.execute(stmt)).scalars()):
            if old is not new:
                await _set_default_flag(session, old, False, tenant_id=tenant_id, actor=actor)
        if new is not None and not new.is_default:
            await _set_default_flag(session, new, True, tenant_id=tenant_id, actor=actor)
    except IntegrityError as exc:
        raise ConflictError("the default provider changed meanwhile", resource="lm_provider") from exc
    return None if new is None else ProviderInfo.of(new)


async def _set_default_flag(
    session: AsyncSession, row: LMProvider, value: bool, *, tenant_id: uuid.UUID, actor: str
) -> None:
    before = snapshot(row)
    row.is_default = value
    action = "set_default" if value else "unset_default"
    # record() flushes: the old default is cleared in the database before the new one is set
    await audit.record(session, tenant_id=tenant_id, actor=actor, action=action, row=row, before=before)


async def get_default_provider(session: AsyncSession, *, tenant_id: uuid.UUID) -> ProviderInfo | None:
    stmt = select(LMProvider).where(LMProvider.tenant_id == tenant_id, LMProvider.is_default.is_(True))
    row = (await session.execute(stmt)).scalar_one_or_none()
    return None if row is None else ProviderInfo.of(row)


async def delete_provider(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: str, provider_id: uuid.UUID
) -> None:
    row = await get_owned(session, LMProvider, tenant_id=tenant_id, id=provider_id)
    await audit.delete(session, tenant_id=tenant_id, actor=actor, row=row)


async def resolve_api_key(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    provider_id: uuid.UUID,
    secret_key: str | None = None,
    env_allow: Sequence[str] | None = None,
) -> SecretStr | None:
    """The provider's key for building its LM client (decrypted, or read from its environment variable).

    The variable is checked against the allow-list in force now, not the one it was stored under: a row
    written before the rule, by hand, or since removed from the list is refused (EnvNotAllowedError).
    """
    row = await get_owned(session, LMProvider, tenant_id=tenant_id, id=provider_id)
    if row.secret_ciphertext is not None:
        return SecretStr(crypto.decrypt(row.secret_ciphertext, key=secret_key))
    if row.secret_env is not None:
        EnvAllowList.resolve(env_allow).check(row.secret_env, custom_endpoint=row.base_url is not None)
        value = env(row.secret_env)
        if value is None:
            raise StoreError(f"provider {row.name!r} reads its key from {row.secret_env}, which is not set")
        return SecretStr(value)
    return None


def _check_secret_source(
    api_key: str | SecretStr | None,
    api_key_env: str | None,
    env_allow: Sequence[str] | None,
    *,
    custom_endpoint: bool,
) -> None:
    if api_key is not None and api_key_env is not None:
        raise InvalidValueError("api_key_env", "give api_key or api_key_env, not both")
    if api_key_env is not None:
        EnvAllowList.resolve(env_allow).check(api_key_env, custom_endpoint=custom_endpoint)


def _encrypt(api_key: str | SecretStr | None, secret_key: str | None) -> str | None:
    if api_key is None:
        return None
    plain = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
    return crypto.encrypt(plain, key=secret_key)
