"""Provider secrets: encrypted at rest or referenced by env var; never returned, logged or audited."""

from __future__ import annotations

import dataclasses
import logging
import uuid

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from dspy_ash.store import Database, SecretKeyMissingError, repos
from dspy_ash.store.models import AuditEvent, LMProvider

SECRET = "sk-live-" + "s3cr3t" * 6


@pytest.fixture
def fernet_key(monkeypatch: pytest.MonkeyPatch) -> str:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("DSPY_ASH_SECRET_KEY", key)
    return key


async def test_secret_is_encrypted_at_rest_and_never_returned(
    db: Database, tenant: uuid.UUID, fernet_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with db.transaction() as s:
        info = await repos.providers.create_provider(
            s,
            tenant_id=tenant,
            actor="t",
            name="openai",
            kind="openai_compat",
            base_url="http://127.0.0.1:9/v1",
            api_key=SECRET,
        )
    assert info.has_stored_secret and info.secret_env is None
    assert SECRET not in repr(info) and SECRET not in str(dataclasses.asdict(info))

    async with db.transaction() as s:
        listed = await repos.providers.list_providers(s, tenant_id=tenant)
        fetched = await repos.providers.get_provider(s, tenant_id=tenant, provider_id=info.id)
        raw = (await s.execute(text("SELECT * FROM lm_provider WHERE name = 'openai'"))).all()
        audit_rows = (
            (await s.execute(select(AuditEvent).where(AuditEvent.resource_id == info.id))).scalars().all()
        )
        resolved = await repos.providers.resolve_api_key(s, tenant_id=tenant, provider_id=info.id)
    assert SECRET not in repr(listed) + repr(fetched)
    assert raw and all(SECRET not in str(row) for row in raw)  # ciphertext only, in every column
    row = next(r for r in raw if str(info.id).replace("-", "") in str(r).replace("-", ""))
    assert any(str(v).startswith("gAAAA") for v in row)  # a Fernet token
    assert audit_rows and all(SECRET not in str(e.after) and "gAAAA" not in str(e.after) for e in audit_rows)
    assert resolved is not None and resolved.get_secret_value() == SECRET
    assert SECRET not in repr(resolved) and SECRET not in str(resolved)
    assert SECRET not in caplog.text


async def test_wrong_key_cannot_decrypt(
    db: Database, tenant: uuid.UUID, fernet_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with db.transaction() as s:
        info = await repos.providers.create_provider(
            s, tenant_id=tenant, actor="t", name="p", kind="x", api_key=SECRET
        )
    monkeypatch.setenv("DSPY_ASH_SECRET_KEY", Fernet.generate_key().decode())
    async with db.transaction() as s:
        with pytest.raises(Exception, match="cannot be decrypted") as info_exc:
            await repos.providers.resolve_api_key(s, tenant_id=tenant, provider_id=info.id)
    assert SECRET not in str(info_exc.value)


async def test_without_a_key_secrets_are_refused_but_env_references_work(
    db: Database, tenant: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DSPY_ASH_SECRET_KEY", raising=False)
    async with db.transaction() as s:
        with pytest.raises(SecretKeyMissingError):
            await repos.providers.create_provider(
                s, tenant_id=tenant, actor="t", name="p", kind="x", api_key=SECRET
            )
    monkeypatch.setenv("MY_PROVIDER_KEY", SECRET)
    async with db.transaction() as s:
        info = await repos.providers.create_provider(
            s, tenant_id=tenant, actor="t", name="p", kind="x", api_key_env="MY_PROVIDER_KEY"
        )
        stored = (await s.execute(select(LMProvider).where(LMProvider.id == info.id))).scalar_one()
        resolved = await repos.providers.resolve_api_key(s, tenant_id=tenant, provider_id=info.id)
    assert stored.secret_ciphertext is None and stored.secret_env == "MY_PROVIDER_KEY"
    assert resolved is not None and resolved.get_secret_value() == SECRET


async def test_rotating_a_secret_is_audited_without_the_secret(
    db: Database, tenant: uuid.UUID, fernet_key: str
) -> None:
    async with db.transaction() as s:
        info = await repos.providers.create_provider(
            s, tenant_id=tenant, actor="t", name="p", kind="x", api_key=SECRET
        )
        await repos.providers.set_secret(
            s, tenant_id=tenant, actor="t", provider_id=info.id, api_key=SECRET + "-2"
        )
        events = await repos.audit.list_events(s, tenant_id=tenant, resource_id=info.id)
    assert [e.action for e in events] == ["create", "set_secret"]
    assert all("secret_ciphertext" not in (e.after or {}) and SECRET not in str(e.before) for e in events)
