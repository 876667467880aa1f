"""Provider secrets: encrypted at rest or referenced by env var; never returned, logged or audited."""

from __future__ import annotations

import dataclasses
import logging
import uuid

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from dspy_ash.store import Database, EnvNotAllowedError, SecretKeyMissingError, repos
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
    monkeypatch.setenv("DSPY_ASH_PROVIDER_KEY_MINE", SECRET)
    async with db.transaction() as s:
        info = await repos.providers.create_provider(
            s, tenant_id=tenant, actor="t", name="p", kind="x", api_key_env="DSPY_ASH_PROVIDER_KEY_MINE"
        )
        stored = (await s.execute(select(LMProvider).where(LMProvider.id == info.id))).scalar_one()
        resolved = await repos.providers.resolve_api_key(s, tenant_id=tenant, provider_id=info.id)
    assert stored.secret_ciphertext is None and stored.secret_env == "DSPY_ASH_PROVIDER_KEY_MINE"
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


# -- environment references come from the operator's allow-list only ---------------------------------

SERVER_SECRETS = ["DSPY_ASH_SECRET_KEY", "DSPY_ASH_DATABASE_URL", "dspy_ash_secret_key", "HOME", "PATH"]


@pytest.mark.parametrize("name", SERVER_SECRETS)
async def test_a_tenant_cannot_store_a_reference_to_a_server_variable(
    db: Database, tenant: uuid.UUID, fernet_key: str, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """The attack: name the server's master key, point base_url at yourself, receive it as a bearer token."""
    monkeypatch.delenv("DSPY_ASH_PROVIDER_ENV_ALLOW", raising=False)
    with pytest.raises(EnvNotAllowedError, match="DSPY_ASH_PROVIDER_ENV_ALLOW") as refused:
        async with db.transaction() as s:
            await repos.providers.create_provider(
                s,
                tenant_id=tenant,
                actor="mallory",
                name="evil",
                kind="openai_compat",
                base_url="http://127.0.0.1:9/v1",
                api_key_env=name,
            )
    assert refused.value.name == name and name in str(refused.value)
    assert fernet_key not in str(refused.value)
    async with db.transaction() as s:
        info = await repos.providers.create_provider(s, tenant_id=tenant, actor="t", name="ok", kind="x")
        with pytest.raises(EnvNotAllowedError):
            await repos.providers.set_secret(
                s, tenant_id=tenant, actor="t", provider_id=info.id, api_key_env=name
            )
        assert (
            await repos.providers.get_provider(s, tenant_id=tenant, provider_id=info.id)
        ).secret_env is None
        assert await repos.providers.list_providers(s, tenant_id=tenant) == [info]  # "evil" was not stored


@pytest.mark.parametrize(
    "allow",
    [["DSPY_ASH_*"], ["*"], ["DSPY_ASH_SECRET_KEY"], ["DSPY_ASH_SECRET_KEY", "DSPY_ASH_DATABASE_URL"]],
)
async def test_the_projects_own_variables_are_refused_whatever_the_allow_list(
    db: Database, tenant: uuid.UUID, fernet_key: str, monkeypatch: pytest.MonkeyPatch, allow: list[str]
) -> None:
    monkeypatch.setenv("DSPY_ASH_PROVIDER_ENV_ALLOW", ",".join(allow))
    for env_allow in (None, allow):  # from the environment, and passed explicitly
        for name in ("DSPY_ASH_SECRET_KEY", "DSPY_ASH_DATABASE_URL"):
            with pytest.raises(EnvNotAllowedError):
                async with db.transaction() as s:
                    await repos.providers.create_provider(
                        s,
                        tenant_id=tenant,
                        actor="t",
                        name="p",
                        kind="x",
                        api_key_env=name,
                        env_allow=env_allow,
                    )


async def _row_with_env(db: Database, tenant: uuid.UUID, name: str) -> uuid.UUID:
    """A provider row naming `name`, written past the repository (before the rule existed, or by hand)."""
    row = LMProvider(
        tenant_id=tenant, name=f"raw-{uuid.uuid4().hex[:8]}", kind="x", config={}, secret_env=name
    )
    async with db.transaction() as s:
        s.add(row)
    return row.id


@pytest.mark.parametrize("name", SERVER_SECRETS)
async def test_resolving_refuses_a_stored_reference_outside_the_allow_list(
    db: Database, tenant: uuid.UUID, fernet_key: str, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.delenv("DSPY_ASH_PROVIDER_ENV_ALLOW", raising=False)
    monkeypatch.setenv("DSPY_ASH_DATABASE_URL", "postgresql://u:pw@127.0.0.1/db")
    provider_id = await _row_with_env(db, tenant, name)
    for env_allow in (None, ["*"], [name]):
        async with db.transaction() as s:
            with pytest.raises(EnvNotAllowedError) as refused:
                await repos.providers.resolve_api_key(
                    s, tenant_id=tenant, provider_id=provider_id, env_allow=env_allow
                )
        assert fernet_key not in str(refused.value) and "pw@" not in str(refused.value)
        if not name.upper().startswith("DSPY_ASH_"):
            break  # an explicit allow-list may allow HOME; only the project's own are refused always


async def test_resolving_checks_the_allow_list_in_force_now(
    db: Database, tenant: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name allowed when stored and removed from the list since is refused at resolution."""
    monkeypatch.setenv("ACME_LLM_KEY", SECRET)
    async with db.transaction() as s:
        info = await repos.providers.create_provider(
            s,
            tenant_id=tenant,
            actor="t",
            name="p",
            kind="x",
            api_key_env="ACME_LLM_KEY",
            env_allow=["ACME_*"],
        )
        resolved = await repos.providers.resolve_api_key(
            s, tenant_id=tenant, provider_id=info.id, env_allow=["ACME_LLM_KEY"]
        )
        assert resolved is not None and resolved.get_secret_value() == SECRET
        with pytest.raises(EnvNotAllowedError, match="ACME_LLM_KEY"):
            await repos.providers.resolve_api_key(s, tenant_id=tenant, provider_id=info.id, env_allow=[])
    monkeypatch.setenv("DSPY_ASH_PROVIDER_ENV_ALLOW", "ACME_*, OTHER_KEY")
    async with db.transaction() as s:
        assert await repos.providers.resolve_api_key(s, tenant_id=tenant, provider_id=info.id) == resolved
    monkeypatch.setenv("DSPY_ASH_PROVIDER_ENV_ALLOW", "OTHER_KEY")
    async with db.transaction() as s:
        with pytest.raises(EnvNotAllowedError):
            await repos.providers.resolve_api_key(s, tenant_id=tenant, provider_id=info.id)


async def test_well_known_provider_keys_are_allowed_by_default(
    db: Database, tenant: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DSPY_ASH_PROVIDER_ENV_ALLOW", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    async with db.transaction() as s:
        info = await repos.providers.create_provider(
            s, tenant_id=tenant, actor="t", name="openai", kind="openai_compat", api_key_env="OPENAI_API_KEY"
        )
        resolved = await repos.providers.resolve_api_key(s, tenant_id=tenant, provider_id=info.id)
    assert resolved is not None and resolved.get_secret_value() == SECRET


async def test_default_keys_are_never_sent_to_a_tenant_chosen_endpoint(
    db: Database, tenant: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    """OPENAI_API_KEY is allowed by default, but a custom base URL could be the tenant's own collector."""
    monkeypatch.delenv("DSPY_ASH_PROVIDER_ENV_ALLOW", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with pytest.raises(EnvNotAllowedError, match="custom base URL"):
        async with db.transaction() as s:
            await repos.providers.create_provider(
                s,
                tenant_id=tenant,
                actor="mallory",
                name="collector",
                kind="openai_compat",
                base_url="http://127.0.0.1:9/v1",
                api_key_env="OPENAI_API_KEY",
            )
    async with db.transaction() as s:  # nor by moving the reference onto a provider that has one
        custom = await repos.providers.create_provider(
            s,
            tenant_id=tenant,
            actor="t",
            name="local",
            kind="openai_compat",
            base_url="http://127.0.0.1:9/v1",
        )
        with pytest.raises(EnvNotAllowedError, match="custom base URL"):
            await repos.providers.set_secret(
                s, tenant_id=tenant, actor="t", provider_id=custom.id, api_key_env="OPENAI_API_KEY"
            )
    row = LMProvider(
        tenant_id=tenant,
        name="by-hand",
        kind="x",
        config={},
        base_url="http://127.0.0.1:9/v1",
        secret_env="OPENAI_API_KEY",
    )
    async with db.transaction() as s:
        s.add(row)
    async with db.transaction() as s:
        with pytest.raises(EnvNotAllowedError, match="custom base URL"):
            await repos.providers.resolve_api_key(s, tenant_id=tenant, provider_id=row.id)
    # an operator who sets the list explicitly accepts that tenants may use these keys anywhere
    monkeypatch.setenv("DSPY_ASH_PROVIDER_ENV_ALLOW", "OPENAI_API_KEY")
    async with db.transaction() as s:
        resolved = await repos.providers.resolve_api_key(s, tenant_id=tenant, provider_id=row.id)
    assert resolved is not None and resolved.get_secret_value() == SECRET
