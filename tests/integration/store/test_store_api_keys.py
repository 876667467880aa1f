"""API keys: stored as a hash only, authenticate to their tenant and role, revocable."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from dspy_ash.store import Database, repos


async def test_key_is_stored_hashed_and_authenticates(db: Database, tenant: uuid.UUID) -> None:
    async with db.transaction() as s:
        key, token = await repos.api_keys.create_api_key(
            s, tenant_id=tenant, actor="init", name="ci", role="editor"
        )
    async with db.transaction() as s:
        rows = (await s.execute(text("SELECT * FROM api_key"))).all()
        principal = await repos.api_keys.authenticate(s, token=token)
        events = await repos.audit.list_events(s, tenant_id=tenant, resource_id=key.id)
    assert token.startswith("dak_") and all(token not in str(r) for r in rows)
    assert key.key_hash == repos.api_keys.hash_key(token) and key.prefix == token[:10]
    assert principal is not None and (principal.tenant_id, principal.role) == (tenant, "editor")
    assert events and all("key_hash" not in (e.after or {}) for e in events)

    async with db.transaction() as s:
        assert await repos.api_keys.authenticate(s, token=token + "x") is None
        await repos.api_keys.revoke_api_key(s, tenant_id=tenant, actor="admin", key_id=key.id)
    async with db.transaction() as s:
        assert await repos.api_keys.authenticate(s, token=token) is None


async def test_roles_are_checked(db: Database, tenant: uuid.UUID) -> None:
    async with db.transaction() as s:
        with pytest.raises(ValueError, match="role"):
            await repos.api_keys.create_api_key(s, tenant_id=tenant, actor="t", name="k", role="root")
