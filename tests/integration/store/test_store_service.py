"""What the service needs of the store besides accounts: API key expiry, limits and use stamps, a default
provider, a program's serving version, idempotency records, optimizer configs and metric definitions."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from store_helpers import program_state

from dspy_ash.store import ConflictError, Database, InvalidValueError, NotFoundError, WrongParentError, repos
from dspy_ash.store._types import utcnow
from dspy_ash.store.models import AuditEvent, IdempotencyRecord, LMProvider


async def _events(db: Database, tenant: uuid.UUID, resource_id: uuid.UUID) -> list[AuditEvent]:
    async with db.transaction() as s:
        return await repos.audit.list_events(s, tenant_id=tenant, resource_id=resource_id)


# -- API keys ------------------------------------------------------------------------------------------


async def test_an_expired_key_is_refused_and_the_limit_comes_with_the_principal(
    db: Database, tenant: uuid.UUID
) -> None:
    expires = utcnow() + timedelta(hours=1)
    async with db.transaction() as s:
        key, token = await repos.api_keys.create_api_key(
            s,
            tenant_id=tenant,
            actor="admin",
            name="ci",
            role="viewer",
            expires_at=expires,
            rate_limit_per_minute=30,
        )
        _, plain = await repos.api_keys.create_api_key(
            s, tenant_id=tenant, actor="admin", name="p", role="viewer"
        )
    assert key.created_by == "admin" and key.display == key.prefix + "\u2026" and token.startswith(key.prefix)
    async with db.transaction() as s:
        now = utcnow()
        principal = await repos.api_keys.authenticate(s, token=token, now=now)
        assert principal is not None and principal.rate_limit_per_minute == 30
        assert await repos.api_keys.authenticate(s, token=token, now=now + timedelta(hours=2)) is None
        unlimited = await repos.api_keys.authenticate(s, token=plain, now=now + timedelta(days=999))
        assert unlimited is not None and unlimited.rate_limit_per_minute is None
        (listed, _) = await repos.api_keys.list_api_keys(s, tenant_id=tenant)
        assert listed.display.endswith("\u2026") and token not in listed.display
    (event,) = await _events(db, tenant, key.id)
    assert (
        event.after is not None
        and event.after["rate_limit_per_minute"] == 30
        and "key_hash" not in event.after
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"expires_at": "past"}, "expires_at"), ({"rate_limit_per_minute": 0}, "rate_limit_per_minute")],
)
async def test_a_key_refuses_a_past_expiry_or_a_limit_below_one(
    db: Database, tenant: uuid.UUID, kwargs: dict[str, Any], field: str
) -> None:
    given: dict[str, Any] = {
        k: (utcnow() - timedelta(seconds=1) if v == "past" else v) for k, v in kwargs.items()
    }
    async with db.transaction() as s:
        with pytest.raises(InvalidValueError) as refused:
            await repos.api_keys.create_api_key(
                s, tenant_id=tenant, actor="a", name="k", role="viewer", **given
            )
    assert refused.value.field == field


async def test_touch_last_used_writes_at_most_once_a_minute(db: Database, tenant: uuid.UUID) -> None:
    async with db.transaction() as s:
        key, _ = await repos.api_keys.create_api_key(s, tenant_id=tenant, actor="a", name="k", role="viewer")
    now = utcnow()
    async with db.transaction() as s:
        assert await repos.api_keys.touch_last_used(s, key_id=key.id, now=now)  # never used: writes
        assert not await repos.api_keys.touch_last_used(s, key_id=key.id, now=now + timedelta(seconds=59))
        assert await repos.api_keys.touch_last_used(s, key_id=key.id, now=now + timedelta(seconds=61))
    async with db.transaction() as s:
        (stored,) = await repos.api_keys.list_api_keys(s, tenant_id=tenant)
    assert stored.last_used_at == now + timedelta(seconds=61) and stored.updated_at == key.updated_at
    assert len(await _events(db, tenant, key.id)) == 1  # use is not a change: only the creation


# -- the default provider ------------------------------------------------------------------------------


async def _providers(db: Database, tenant: uuid.UUID, n: int) -> list[uuid.UUID]:
    async with db.transaction() as s:
        return [
            (
                await repos.providers.create_provider(
                    s, tenant_id=tenant, actor="a", name=f"p{i}", kind="openai_compat"
                )
            ).id
            for i in range(n)
        ]


async def test_one_default_provider_per_tenant(
    db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID
) -> None:
    first, second = await _providers(db, tenant, 2)
    (theirs,) = await _providers(db, other_tenant, 1)
    async with db.transaction() as s:
        assert await repos.providers.get_default_provider(s, tenant_id=tenant) is None
        info = await repos.providers.set_default_provider(s, tenant_id=tenant, actor="a", provider_id=first)
        assert info is not None and info.is_default
        await repos.providers.set_default_provider(s, tenant_id=other_tenant, actor="b", provider_id=theirs)
    async with db.transaction() as s:
        await repos.providers.set_default_provider(s, tenant_id=tenant, actor="a", provider_id=second)
        default = await repos.providers.get_default_provider(s, tenant_id=tenant)
        assert default is not None and default.id == second
        assert not (await repos.providers.get_provider(s, tenant_id=tenant, provider_id=first)).is_default
        other = await repos.providers.get_default_provider(s, tenant_id=other_tenant)
        assert other is not None and other.id == theirs  # another tenant's default is its own
    assert [e.action for e in await _events(db, tenant, first)] == ["create", "set_default", "unset_default"]
    assert [e.action for e in await _events(db, tenant, second)] == ["create", "set_default"]
    async with db.transaction() as s:
        assert (
            await repos.providers.set_default_provider(s, tenant_id=tenant, actor="a", provider_id=None)
            is None
        )
        assert await repos.providers.get_default_provider(s, tenant_id=tenant) is None


async def test_the_database_refuses_two_defaults(db: Database, tenant: uuid.UUID) -> None:
    first, second = await _providers(db, tenant, 2)
    async with db.transaction() as s:
        await s.execute(update(LMProvider).where(LMProvider.id == first).values(is_default=True))
    with pytest.raises(IntegrityError):
        async with db.transaction() as s:
            await s.execute(update(LMProvider).where(LMProvider.id == second).values(is_default=True))
    async with db.transaction() as s:  # many non-defaults are fine: the index is partial
        await s.execute(update(LMProvider).where(LMProvider.id == first).values(is_default=False))


# -- the serving version -------------------------------------------------------------------------------


async def test_serving_version_is_the_promoted_one_else_the_latest(db: Database, tenant: uuid.UUID) -> None:
    async with db.transaction() as s:
        program = await repos.programs.create_program(
            s, tenant_id=tenant, actor="a", name="p", source="a.b:C"
        )
        other = await repos.programs.create_program(s, tenant_id=tenant, actor="a", name="q", source="a.b:D")
        with pytest.raises(NotFoundError, match="program_version"):
            await repos.versions.serving_version(s, tenant_id=tenant, program_id=program.id)
        v1 = await repos.versions.create_version(
            s, tenant_id=tenant, actor="a", program_id=program.id, state=program_state("1")
        )
        v2 = await repos.versions.create_version(
            s, tenant_id=tenant, actor="a", program_id=program.id, state=program_state("2")
        )
        theirs = await repos.versions.create_version(
            s, tenant_id=tenant, actor="a", program_id=other.id, state=program_state()
        )
        assert (await repos.versions.serving_version(s, tenant_id=tenant, program_id=program.id)).id == v2.id
        promoted = await repos.versions.promote_version(
            s, tenant_id=tenant, actor="rel", program_id=program.id, version_id=v1.id
        )
        assert promoted.serving_version_id == v1.id
        assert (await repos.versions.serving_version(s, tenant_id=tenant, program_id=program.id)).id == v1.id
        with pytest.raises(WrongParentError):
            await repos.versions.promote_version(
                s, tenant_id=tenant, actor="rel", program_id=program.id, version_id=theirs.id
            )
    (event,) = [e for e in await _events(db, tenant, program.id) if e.action == "promote"]
    assert event.actor == "rel" and event.before is not None and event.after is not None
    assert (event.before["serving_version_id"], event.after["serving_version_id"]) == (None, str(v1.id))


# -- idempotency records -------------------------------------------------------------------------------


async def test_idempotency_save_lookup_duplicate_and_prune(
    db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID
) -> None:
    args = {"action": "programs.create", "key": "abc", "request_hash": "f" * 64}
    async with db.transaction() as s:
        assert (
            await repos.idempotency.lookup(s, tenant_id=tenant, action="programs.create", key="abc") is None
        )
        await repos.idempotency.save(s, tenant_id=tenant, status_code=201, response={"id": "x"}, **args)
        await repos.idempotency.save(
            s, tenant_id=other_tenant, status_code=201, response=None, **args
        )  # its own key space
        await repos.idempotency.save(
            s, tenant_id=tenant, status_code=200, response=[1], **{**args, "action": "other"}
        )
    with pytest.raises(ConflictError, match="used already"):
        async with db.transaction() as s:
            await repos.idempotency.save(s, tenant_id=tenant, status_code=500, response={}, **args)
    async with db.transaction() as s:
        found = await repos.idempotency.lookup(s, tenant_id=tenant, action="programs.create", key="abc")
        assert found is not None and (found.status_code, found.response, found.request_hash) == (
            201,
            {"id": "x"},
            "f" * 64,
        )
        assert await repos.idempotency.prune(s, older_than=utcnow() - timedelta(hours=1)) == 0
        assert await repos.idempotency.prune(s, older_than=utcnow() + timedelta(seconds=1)) >= 3
        assert (
            await repos.idempotency.lookup(s, tenant_id=tenant, action="programs.create", key="abc") is None
        )


async def test_a_concurrent_duplicate_is_a_conflict_not_an_integrity_error(
    db: Database, tenant: uuid.UUID
) -> None:
    args: dict[str, Any] = {
        "tenant_id": tenant,
        "action": "run",
        "key": "race",
        "request_hash": "0" * 64,
        "status_code": 202,
    }
    first_saved = asyncio.Event()

    async def first() -> None:
        async with db.transaction() as s:
            await repos.idempotency.save(s, response={"by": "first"}, **args)
            first_saved.set()
            await asyncio.sleep(0.3)  # the second insert waits on this transaction's lock meanwhile

    async def second() -> None:
        await first_saved.wait()
        async with db.transaction() as s:
            await repos.idempotency.save(s, response={"by": "second"}, **args)

    results = await asyncio.gather(first(), second(), return_exceptions=True)
    assert results[0] is None and isinstance(results[1], ConflictError), results
    async with db.transaction() as s:
        found = await repos.idempotency.lookup(s, tenant_id=tenant, action="run", key="race")
        assert found is not None and found.response == {"by": "first"}
    assert IdempotencyRecord.__audited__ is False


# -- optimizer configs ---------------------------------------------------------------------------------


async def test_optimizer_configs_create_update_list_delete(db: Database, tenant: uuid.UUID) -> None:
    async with db.transaction() as s:
        row = await repos.optimizer_configs.create_optimizer_config(
            s,
            tenant_id=tenant,
            actor="a",
            name="fast",
            optimizer="BootstrapFewShot",
            config={"max_bootstrapped_demos": 2},
        )
        await repos.optimizer_configs.create_optimizer_config(
            s, tenant_id=tenant, actor="a", name="slow", optimizer="MIPROv2"
        )
        with pytest.raises(InvalidValueError, match="optimizer"):
            await repos.optimizer_configs.create_optimizer_config(
                s, tenant_id=tenant, actor="a", name="x", optimizer="not a class!"
            )
    with pytest.raises(ConflictError, match="exists"):
        async with db.transaction() as s:
            await repos.optimizer_configs.create_optimizer_config(
                s, tenant_id=tenant, actor="a", name="fast", optimizer="X"
            )
    with pytest.raises(ConflictError, match="exists"):
        async with db.transaction() as s:
            await repos.optimizer_configs.update_optimizer_config(
                s, tenant_id=tenant, actor="a", config_id=row.id, name="slow"
            )
    async with db.transaction() as s:
        changed = await repos.optimizer_configs.update_optimizer_config(
            s,
            tenant_id=tenant,
            actor="b",
            config_id=row.id,
            config={"max_bootstrapped_demos": 4},
            description="d",
        )
        assert (changed.name, changed.optimizer, changed.config) == (
            "fast",
            "BootstrapFewShot",
            {"max_bootstrapped_demos": 4},
        )
        assert [
            c.name for c in await repos.optimizer_configs.list_optimizer_configs(s, tenant_id=tenant)
        ] == ["fast", "slow"]
        assert (
            await repos.optimizer_configs.get_optimizer_config(s, tenant_id=tenant, config_id=row.id)
        ).description == "d"
        await repos.optimizer_configs.delete_optimizer_config(
            s, tenant_id=tenant, actor="c", config_id=row.id
        )
        with pytest.raises(NotFoundError):
            await repos.optimizer_configs.get_optimizer_config(s, tenant_id=tenant, config_id=row.id)
    events = await _events(db, tenant, row.id)
    assert [(e.actor, e.action) for e in events] == [("a", "create"), ("b", "update"), ("c", "delete")]
    assert events[1].before is not None and events[1].before["config"] == {"max_bootstrapped_demos": 2}


# -- metric definitions --------------------------------------------------------------------------------


async def test_metrics_builtin_and_lm_judge(db: Database, tenant: uuid.UUID) -> None:
    (provider,) = await _providers(db, tenant, 1)
    judge = {
        "provider_id": str(provider),
        "model": "openai/gpt-4o-mini",
        "instructions": "Is it right?",
        "output_field": "score",
    }
    async with db.transaction() as s:
        em = await repos.metrics.create_metric(
            s, tenant_id=tenant, actor="a", name="em", kind="builtin", config={"name": "answer_exact_match"}
        )
        lm = await repos.metrics.create_metric(
            s, tenant_id=tenant, actor="a", name="judge", kind="lm_judge", config=judge
        )
        assert [m.name for m in await repos.metrics.list_metrics(s, tenant_id=tenant)] == ["em", "judge"]
        assert (await repos.metrics.get_metric(s, tenant_id=tenant, metric_id=lm.id)).config == judge
        await repos.metrics.delete_metric(s, tenant_id=tenant, actor="a", metric_id=em.id)
        assert [m.name for m in await repos.metrics.list_metrics(s, tenant_id=tenant)] == ["judge"]
    with pytest.raises(ConflictError):
        async with db.transaction() as s:
            await repos.metrics.create_metric(
                s, tenant_id=tenant, actor="a", name="judge", kind="lm_judge", config=judge
            )
    assert [e.action for e in await _events(db, tenant, em.id)] == ["create", "delete"]


@pytest.mark.parametrize(
    ("kind", "config", "field"),
    [
        ("regex", {"name": "answer_exact_match"}, "kind"),
        ("builtin", {"name": "accuracy"}, "config.name"),  # no builtin of that name
        ("builtin", {"name": "answer_exact_match", "frac": 1}, "config"),
        ("builtin", ["answer_exact_match"], "config"),
        ("lm_judge", {"model": "m", "instructions": "", "output_field": "score"}, "config"),
        (
            "lm_judge",
            {"provider_id": "nope", "model": "m", "instructions": "", "output_field": "score"},
            "config.provider_id",
        ),
        (
            "lm_judge",
            {"provider_id": "{p}", "model": " ", "instructions": "", "output_field": "score"},
            "config.model",
        ),
        (
            "lm_judge",
            {"provider_id": "{p}", "model": "m", "instructions": "", "output_field": "a-b"},
            "config.output_field",
        ),
    ],
)
async def test_a_metric_config_of_the_wrong_shape_is_refused(
    db: Database, tenant: uuid.UUID, kind: str, config: Any, field: str
) -> None:
    (provider,) = await _providers(db, tenant, 1)
    if isinstance(config, dict):
        config = {k: (str(provider) if v == "{p}" else v) for k, v in config.items()}
    async with db.transaction() as s:
        with pytest.raises(InvalidValueError) as refused:
            await repos.metrics.create_metric(
                s, tenant_id=tenant, actor="a", name="m", kind=kind, config=config
            )
    assert refused.value.field == field


async def test_an_lm_judge_must_use_the_tenants_own_provider(
    db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID
) -> None:
    (theirs,) = await _providers(db, other_tenant, 1)
    judge = {"provider_id": str(theirs), "model": "m", "instructions": "", "output_field": "score"}
    async with db.transaction() as s:
        with pytest.raises(NotFoundError, match="lm_provider"):
            await repos.metrics.create_metric(
                s, tenant_id=tenant, actor="a", name="m", kind="lm_judge", config=judge
            )
