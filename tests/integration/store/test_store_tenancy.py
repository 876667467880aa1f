"""Tenancy: no repository query returns another tenant's rows, and no write accepts another tenant's id.

Tenant A gets one of everything; every read function of every repository is then called as tenant B
(with A's ids where it takes ids) and must return nothing of A's. Every write function is called as
tenant B with B's own ids except one of A's, once per id it takes, and must answer "not found" exactly
as for an id that exists nowhere, changing nothing. Checks below keep both tables complete, so a new
repository function cannot skip this test.
"""

from __future__ import annotations

import inspect
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from store_helpers import program_state

from dspy_ash.store import Database, NotFoundError, repos
from dspy_ash.store.models import Base, Membership, TenantOwned
from dspy_ash.store.repos.runs import RunKind

READ_PREFIXES = (
    "get_",
    "list_",
    "find_",
    "best_",
    "diff_",
    "usage_",
    "export_",
    "examples_",
    "summarize",
    "resolve_",
    "serving_",
    "lookup",
)
# cheap parameters: these tests are about tenancy, not about the cost of a hash
HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@dataclass
class World:
    ids: dict[str, uuid.UUID] = field(default_factory=dict)


async def _populate(db: Database, tenant: uuid.UUID, monkeypatch: pytest.MonkeyPatch) -> World:
    from cryptography.fernet import Fernet

    monkeypatch.setenv("DSPY_ASH_SECRET_KEY", Fernet.generate_key().decode())
    w = World()
    async with db.transaction() as s:
        sig = await repos.signatures.create_signature(
            s, tenant_id=tenant, actor="a", name="qa", spec="q -> a"
        )
        program = await repos.programs.create_program(
            s, tenant_id=tenant, actor="a", name="p", source="a.b:C"
        )
        dataset = await repos.datasets.create_dataset(
            s, tenant_id=tenant, actor="a", name="d", records=[{"q": "x", "a": "y", "split": "dev"}]
        )
        version = await repos.versions.create_version(
            s,
            tenant_id=tenant,
            actor="a",
            program_id=program.id,
            state=program_state(),
            score=1.0,
            metric="m",
        )
        opt = await repos.runs.create_optimizer_run(
            s, tenant_id=tenant, actor="a", program_id=program.id, optimizer="X"
        )
        ev = await repos.runs.create_evaluation_run(s, tenant_id=tenant, actor="a", program_id=program.id)
        await repos.evaluations.add_results(
            s, tenant_id=tenant, actor="a", run_id=ev.id, results=[{"position": 0, "score": 1}]
        )
        provider = await repos.providers.create_provider(
            s, tenant_id=tenant, actor="a", name="pr", kind="x", api_key="sk-a"
        )
        key, _ = await repos.api_keys.create_api_key(s, tenant_id=tenant, actor="a", name="k", role="admin")
        people = await _populate_people(s, tenant)
        service = await _populate_service(s, tenant, provider.id)
        await repos.versions.promote_version(
            s, tenant_id=tenant, actor="a", program_id=program.id, version_id=version.id
        )
        module = await repos.modules.create_module(
            s,
            tenant_id=tenant,
            actor="a",
            program_id=program.id,
            name="m",
            type="predict",
            signature_id=sig.id,
        )
        for statement in _trace_inserts(tenant, program.id):
            await s.execute(statement)
        (example,) = await repos.datasets.list_examples(s, tenant_id=tenant, dataset_id=dataset.id)
        (trace,) = await repos.traces.list_traces(s, tenant_id=tenant)
    w.ids = {
        "example": example.id,
        "trace": trace.id,
        "signature": sig.id,
        "program": program.id,
        "dataset": dataset.id,
        "version": version.id,
        "optimizer_run": opt.id,
        "evaluation_run": ev.id,
        "provider": provider.id,
        "api_key": key.id,
        **people,
        **service,
        "module": module.id,
    }
    return w


async def _populate_people(s: AsyncSession, tenant: uuid.UUID) -> dict[str, uuid.UUID]:
    user = await repos.users.create_user(
        s,
        tenant_id=tenant,
        actor="a",
        email=f"{uuid.uuid4().hex}@example.com",
        password="p" * 12,
        hasher=HASHER,
    )
    await repos.memberships.add_member(s, tenant_id=tenant, actor="a", user_id=user.id, role="editor")
    login, _, _ = await repos.user_sessions.create_session(s, tenant_id=tenant, actor="a", user_id=user.id)
    return {"user": user.id, "user_session": login.id}


async def _populate_service(
    s: AsyncSession, tenant: uuid.UUID, provider_id: uuid.UUID
) -> dict[str, uuid.UUID]:
    await repos.providers.set_default_provider(s, tenant_id=tenant, actor="a", provider_id=provider_id)
    await repos.idempotency.save(
        s,
        tenant_id=tenant,
        action="act",
        key="k1",
        request_hash="0" * 64,
        status_code=201,
        response={"ok": 1},
    )
    config = await repos.optimizer_configs.create_optimizer_config(
        s, tenant_id=tenant, actor="a", name="o", optimizer="BootstrapFewShot", config={"max_rounds": 1}
    )
    metric = await repos.metrics.create_metric(
        s, tenant_id=tenant, actor="a", name="m", kind="lm_judge", config=_judge(provider_id)
    )
    return {"optimizer_config": config.id, "metric": metric.id}


def _judge(provider_id: uuid.UUID) -> dict[str, str]:
    return {"provider_id": str(provider_id), "model": "x/judge", "instructions": "", "output_field": "score"}


def _trace_inserts(tenant: uuid.UUID, program_id: uuid.UUID) -> tuple[Any, Any]:
    from sqlalchemy import insert

    from dspy_ash.store._types import utcnow
    from dspy_ash.store.models import LMRequestLog, Trace

    trace_id = uuid.uuid4()
    now = utcnow()
    return (
        insert(Trace).values(
            id=trace_id,
            tenant_id=tenant,
            program_id=program_id,
            name="P",
            call_id="c",
            status="ok",
            started_at=now,
            duration=0.1,
            created_at=now,
            updated_at=now,
        ),
        insert(LMRequestLog).values(
            id=uuid.uuid4(),
            tenant_id=tenant,
            provider="openai",
            model="openai/x",
            program_id=program_id,
            call_id="c",
            latency=0.1,
            created_at=now,
            updated_at=now,
        ),
    )


def _uuids_in(value: Any) -> set[uuid.UUID]:
    """Every UUID reachable in a result (rows, dataclasses, dicts, lists)."""
    found: set[uuid.UUID] = set()
    stack = [value]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, uuid.UUID):
            found.add(item)
        elif isinstance(item, str):
            try:
                found.add(uuid.UUID(item))
            except ValueError:
                pass
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set):
            stack.extend(item)
        elif isinstance(item, Base):
            stack.extend(getattr(item, a.key) for a in item.__mapper__.column_attrs)
        elif hasattr(item, "__dataclass_fields__"):
            stack.extend(getattr(item, f) for f in item.__dataclass_fields__)
    return found


Call = Callable[[AsyncSession, uuid.UUID, dict[str, uuid.UUID]], Awaitable[Any]]

READS: dict[str, Call] = {
    "tenants.get_tenant": lambda s, t, i: repos.tenants.get_tenant(s, tenant_id=t),
    "signatures.get_signature": lambda s, t, i: repos.signatures.get_signature(
        s, tenant_id=t, signature_id=i["signature"]
    ),
    "signatures.list_signatures": lambda s, t, i: repos.signatures.list_signatures(s, tenant_id=t),
    "programs.get_program": lambda s, t, i: repos.programs.get_program(
        s, tenant_id=t, program_id=i["program"]
    ),
    "programs.find_program": lambda s, t, i: repos.programs.find_program(s, tenant_id=t, name="p"),
    "programs.list_programs": lambda s, t, i: repos.programs.list_programs(s, tenant_id=t),
    "programs.get_programs": lambda s, t, i: repos.programs.get_programs(
        s, tenant_id=t, program_ids=[i["program"]]
    ),
    "versions.get_version": lambda s, t, i: repos.versions.get_version(
        s, tenant_id=t, version_id=i["version"]
    ),
    "versions.list_versions": lambda s, t, i: repos.versions.list_versions(
        s, tenant_id=t, program_id=i["program"]
    ),
    "versions.list_versions_of": lambda s, t, i: repos.versions.list_versions_of(
        s, tenant_id=t, program_ids=[i["program"]]
    ),
    "versions.list_first_versions_of": lambda s, t, i: repos.versions.list_first_versions_of(
        s, tenant_id=t, program_ids=[i["program"]], per_program=5
    ),
    "versions.list_modules": lambda s, t, i: repos.versions.list_modules(
        s, tenant_id=t, version_id=i["version"]
    ),
    "versions.best_version": lambda s, t, i: repos.versions.best_version(
        s, tenant_id=t, program_id=i["program"]
    ),
    "versions.diff_versions": lambda s, t, i: repos.versions.diff_versions(
        s, tenant_id=t, old_id=i["version"], new_id=i["version"]
    ),
    "datasets.get_dataset": lambda s, t, i: repos.datasets.get_dataset(
        s, tenant_id=t, dataset_id=i["dataset"]
    ),
    "datasets.list_datasets": lambda s, t, i: repos.datasets.list_datasets(s, tenant_id=t),
    "datasets.list_examples": lambda s, t, i: repos.datasets.list_examples(
        s, tenant_id=t, dataset_id=i["dataset"]
    ),
    "datasets.examples_hash": lambda s, t, i: repos.datasets.examples_hash(
        s, tenant_id=t, dataset_id=i["dataset"], split="dev"
    ),
    "datasets.export_records": lambda s, t, i: repos.datasets.export_records(
        s, tenant_id=t, dataset_id=i["dataset"]
    ),
    "datasets.export_file": lambda s, t, i: repos.datasets.export_file(
        s, tenant_id=t, dataset_id=i["dataset"], path=Path(tempfile.mkdtemp()) / "out.jsonl"
    ),
    "runs.get_run": lambda s, t, i: repos.runs.get_run(
        s, tenant_id=t, kind="optimizer", run_id=i["optimizer_run"]
    ),
    "runs.list_runs": lambda s, t, i: repos.runs.list_runs(s, tenant_id=t, kind="evaluation"),
    "evaluations.list_results": lambda s, t, i: repos.evaluations.list_results(
        s, tenant_id=t, run_id=i["evaluation_run"]
    ),
    "evaluations.summarize": lambda s, t, i: repos.evaluations.summarize(
        s, tenant_id=t, run_id=i["evaluation_run"]
    ),
    "modules.get_module": lambda s, t, i: repos.modules.get_module(s, tenant_id=t, module_id=i["module"]),
    "providers.get_provider": lambda s, t, i: repos.providers.get_provider(
        s, tenant_id=t, provider_id=i["provider"]
    ),
    "providers.list_providers": lambda s, t, i: repos.providers.list_providers(s, tenant_id=t),
    "providers.resolve_api_key": lambda s, t, i: repos.providers.resolve_api_key(
        s, tenant_id=t, provider_id=i["provider"]
    ),
    "api_keys.list_api_keys": lambda s, t, i: repos.api_keys.list_api_keys(s, tenant_id=t),
    "providers.get_default_provider": lambda s, t, i: repos.providers.get_default_provider(s, tenant_id=t),
    "versions.serving_version": lambda s, t, i: repos.versions.serving_version(
        s, tenant_id=t, program_id=i["program"]
    ),
    "memberships.get_membership": lambda s, t, i: repos.memberships.get_membership(
        s, tenant_id=t, user_id=i["user"]
    ),
    "memberships.list_members": lambda s, t, i: repos.memberships.list_members(s, tenant_id=t),
    "idempotency.lookup": lambda s, t, i: repos.idempotency.lookup(s, tenant_id=t, action="act", key="k1"),
    "optimizer_configs.get_optimizer_config": lambda s, t, i: repos.optimizer_configs.get_optimizer_config(
        s, tenant_id=t, config_id=i["optimizer_config"]
    ),
    "optimizer_configs.list_optimizer_configs": lambda s, t, i: (
        repos.optimizer_configs.list_optimizer_configs(s, tenant_id=t)
    ),
    "metrics.get_metric": lambda s, t, i: repos.metrics.get_metric(s, tenant_id=t, metric_id=i["metric"]),
    "metrics.list_metrics": lambda s, t, i: repos.metrics.list_metrics(s, tenant_id=t),
    "audit.list_events": lambda s, t, i: repos.audit.list_events(s, tenant_id=t),
    "traces.list_traces": lambda s, t, i: repos.traces.list_traces(s, tenant_id=t),
    "traces.get_trace": lambda s, t, i: repos.traces.get_trace(s, tenant_id=t, trace_id=i["trace"]),
    "lm_requests.usage_stats": lambda s, t, i: repos.lm_requests.usage_stats(
        s, tenant_id=t, group_by=("provider", "program")
    ),
    "lm_requests.usage_summary": lambda s, t, i: repos.lm_requests.usage_summary(
        s, tenant_id=t, group_by=("provider", "program")
    ),
    "lm_requests.list_recent_calls": lambda s, t, i: repos.lm_requests.list_recent_calls(
        s, tenant_id=t, n=10
    ),
    "cache.get_cache_stats": lambda s, t, i: repos.cache.get_cache_stats(s, tenant_id=t),
    "datasets.export_text": lambda s, t, i: repos.datasets.export_text(
        s, tenant_id=t, dataset_id=i["dataset"], fmt="jsonl"
    ),
}


# Look across tenants on purpose: finding a tenant by name is for `dspy-ash init` and admin tools; user
# accounts belong to no tenant (one account, several memberships), and a user's list of tenants is theirs.
CROSS_TENANT_BY_DESIGN = {
    "tenants.find_tenant",
    "users.get_user",
    "users.find_user_by_email",
    "memberships.list_tenants_of_user",
}


def test_every_read_function_is_in_the_table() -> None:
    found = {
        f"{module_name}.{name}"
        for module_name in repos.__all__
        for name, fn in inspect.getmembers(getattr(repos, module_name), inspect.iscoroutinefunction)
        if name.startswith(READ_PREFIXES) and fn.__module__ == getattr(repos, module_name).__name__
    }
    assert found == set(READS) | CROSS_TENANT_BY_DESIGN


async def test_no_read_returns_another_tenants_rows(
    db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = await _populate(db, tenant, monkeypatch)
    theirs = set(world.ids.values()) | {tenant}
    for name, call in READS.items():
        # as tenant A the call sees A's data (so the check below is not vacuous) ...
        if name != "tenants.get_tenant":
            async with db.transaction() as s:
                mine = await call(s, tenant, world.ids)
            assert mine not in (None, [], {}), name
        # ... and as tenant B, nothing of A's
        async with db.transaction() as s:
            try:
                result = await call(s, other_tenant, world.ids)
            except NotFoundError:
                continue
        leaked = _uuids_in(result) & theirs
        assert not leaked, f"{name} returned tenant A's {leaked}"
        owners = {
            getattr(r, "tenant_id", other_tenant) for r in (result if isinstance(result, list) else [result])
        }
        assert owners <= {other_tenant}, name


async def test_tenant_session_filters_even_unscoped_queries(
    db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defence in depth: in a tenant session, a query that forgot its tenant filter is filtered anyway."""
    await _populate(db, tenant, monkeypatch)
    models = [m.class_ for m in Base.registry.mappers if issubclass(m.class_, TenantOwned)]
    assert len(models) == 21
    async with db.transaction(tenant_id=other_tenant) as s:
        for model in models:
            rows = (await s.execute(select(model))).scalars().all()
            assert all(r.tenant_id == other_tenant for r in rows), model.__name__
    async with db.transaction(tenant_id=tenant) as s:
        from dspy_ash.store.models import Program

        assert [p.name for p in (await s.execute(select(Program))).scalars()] == ["p"]


async def test_tenant_session_also_scopes_bulk_updates_and_deletes(
    db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID
) -> None:
    from sqlalchemy import delete, update

    from dspy_ash.store.models import SignatureRow

    async with db.transaction() as s:
        for owner in (tenant, other_tenant):
            await repos.signatures.create_signature(
                s, tenant_id=owner, actor="t", name="shared-name", spec="a -> b"
            )
    async with db.transaction(tenant_id=other_tenant) as s:
        await s.execute(update(SignatureRow).values(instructions="changed by B"))
        await s.execute(delete(SignatureRow).where(SignatureRow.name == "shared-name"))
    async with db.transaction() as s:
        (mine,) = await repos.signatures.list_signatures(s, tenant_id=tenant)
        assert (
            mine.instructions == ""
            and await repos.signatures.list_signatures(s, tenant_id=other_tenant) == []
        )


# -- writes ----------------------------------------------------------------------------------------------

Ids = dict[str, uuid.UUID]
RUN_KINDS: tuple[RunKind, ...] = ("optimizer", "evaluation")
WriteCall = Callable[[AsyncSession, uuid.UUID, Ids], Awaitable[Any]]

# (write function, the id it is given from another tenant, the call). Every other id is the caller's own.
WRITES: list[tuple[str, str, WriteCall]] = [
    (
        "users.set_password",
        "user",
        lambda s, t, i: repos.users.set_password(
            s, tenant_id=t, actor="b", user_id=i["user"], password="q" * 12, hasher=HASHER
        ),
    ),
    (
        "users.disable_user",
        "user",
        lambda s, t, i: repos.users.disable_user(s, tenant_id=t, actor="b", user_id=i["user"]),
    ),
    (
        "memberships.set_role",
        "user",
        lambda s, t, i: repos.memberships.set_role(
            s, tenant_id=t, actor="b", user_id=i["user"], role="admin"
        ),
    ),
    (
        "memberships.remove_member",
        "user",
        lambda s, t, i: repos.memberships.remove_member(s, tenant_id=t, actor="b", user_id=i["user"]),
    ),
    (
        "user_sessions.create_session",
        "user",
        lambda s, t, i: repos.user_sessions.create_session(s, tenant_id=t, actor="b", user_id=i["user"]),
    ),
    (
        "user_sessions.revoke_session",
        "user_session",
        lambda s, t, i: repos.user_sessions.revoke_session(
            s, tenant_id=t, actor="b", session_id=i["user_session"]
        ),
    ),
    (
        "providers.set_default_provider",
        "provider",
        lambda s, t, i: repos.providers.set_default_provider(
            s, tenant_id=t, actor="b", provider_id=i["provider"]
        ),
    ),
    *[
        (
            "versions.promote_version",
            key,
            lambda s, t, i: repos.versions.promote_version(
                s, tenant_id=t, actor="b", program_id=i["program"], version_id=i["version"]
            ),
        )
        for key in ("program", "version")
    ],
    (
        "optimizer_configs.update_optimizer_config",
        "optimizer_config",
        lambda s, t, i: repos.optimizer_configs.update_optimizer_config(
            s, tenant_id=t, actor="b", config_id=i["optimizer_config"], description="b was here"
        ),
    ),
    (
        "optimizer_configs.delete_optimizer_config",
        "optimizer_config",
        lambda s, t, i: repos.optimizer_configs.delete_optimizer_config(
            s, tenant_id=t, actor="b", config_id=i["optimizer_config"]
        ),
    ),
    (
        # the provider id is inside the config
        "metrics.create_metric",
        "provider",
        lambda s, t, i: repos.metrics.create_metric(
            s, tenant_id=t, actor="b", name="m2", kind="lm_judge", config=_judge(i["provider"])
        ),
    ),
    (
        "metrics.delete_metric",
        "metric",
        lambda s, t, i: repos.metrics.delete_metric(s, tenant_id=t, actor="b", metric_id=i["metric"]),
    ),
    (
        "api_keys.revoke_api_key",
        "api_key",
        lambda s, t, i: repos.api_keys.revoke_api_key(s, tenant_id=t, actor="b", key_id=i["api_key"]),
    ),
    (
        "datasets.assign_splits",
        "dataset",
        lambda s, t, i: repos.datasets.assign_splits(
            s, tenant_id=t, actor="b", dataset_id=i["dataset"], train=0.5, dev=0.5
        ),
    ),
    *[
        (
            "evaluations.add_results",
            key,
            # bind key now; each case sends one result pointing at the other tenant's example or trace
            lambda s, t, i, key=key: repos.evaluations.add_results(
                s,
                tenant_id=t,
                actor="b",
                run_id=i["evaluation_run"],
                results=[{"position": 7, "score": 0.0, "example_id": i["example"], "trace_id": i["trace"]}],
            ),
        )
        for key in ("evaluation_run", "example", "trace")
    ],
    (
        "datasets.set_splits",
        "dataset",
        lambda s, t, i: repos.datasets.set_splits(
            s, tenant_id=t, actor="b", dataset_id=i["dataset"], splits={"train": [0]}
        ),
    ),
    (
        "datasets.delete_dataset",
        "dataset",
        lambda s, t, i: repos.datasets.delete_dataset(s, tenant_id=t, actor="b", dataset_id=i["dataset"]),
    ),
    (
        "signatures.delete_signature",
        "signature",
        lambda s, t, i: repos.signatures.delete_signature(
            s, tenant_id=t, actor="b", signature_id=i["signature"]
        ),
    ),
    (
        "providers.set_secret",
        "provider",
        lambda s, t, i: repos.providers.set_secret(
            s, tenant_id=t, actor="b", provider_id=i["provider"], api_key="sk-b"
        ),
    ),
    *[
        (
            "modules.create_module",
            key,
            lambda s, t, i: repos.modules.create_module(
                s,
                tenant_id=t,
                actor="b",
                program_id=i["program"],
                name="n",
                type="predict",
                signature_id=i["signature"],
            ),
        )
        for key in ("program", "signature")
    ],
    (
        "modules.delete_module",
        "module",
        lambda s, t, i: repos.modules.delete_module(s, tenant_id=t, actor="b", module_id=i["module"]),
    ),
    (
        "providers.update_provider",
        "provider",
        lambda s, t, i: repos.providers.update_provider(
            s, tenant_id=t, actor="b", provider_id=i["provider"], name="b's"
        ),
    ),
    (
        "providers.delete_provider",
        "provider",
        lambda s, t, i: repos.providers.delete_provider(s, tenant_id=t, actor="b", provider_id=i["provider"]),
    ),
    (
        "programs.update_program",
        "program",
        lambda s, t, i: repos.programs.update_program(
            s, tenant_id=t, actor="b", program_id=i["program"], description="b was here"
        ),
    ),
    (
        "programs.delete_program",
        "program",
        lambda s, t, i: repos.programs.delete_program(s, tenant_id=t, actor="b", program_id=i["program"]),
    ),
    *[
        (
            "runs.create_optimizer_run",
            key,
            lambda s, t, i: repos.runs.create_optimizer_run(
                s,
                tenant_id=t,
                actor="b",
                program_id=i["program"],
                optimizer="X",
                dataset_id=i["dataset"],
                base_version_id=i["version"],
            ),
        )
        for key in ("program", "dataset", "version")
    ],
    *[
        (
            "runs.create_evaluation_run",
            key,
            lambda s, t, i: repos.runs.create_evaluation_run(
                s,
                tenant_id=t,
                actor="b",
                program_id=i["program"],
                version_id=i["version"],
                dataset_id=i["dataset"],
            ),
        )
        for key in ("program", "dataset", "version")
    ],
    *[
        (
            "runs.transition",
            key,
            lambda s, t, i: repos.runs.transition(
                s,
                tenant_id=t,
                actor="b",
                kind="optimizer",
                run_id=i["optimizer_run"],
                to="running",
                result_version_id=i["version"],
            ),
        )
        for key in ("optimizer_run", "version")
    ],
    *[
        (
            "runs.report_progress",
            f"{kind}_run",
            lambda s, t, i, kind=kind: repos.runs.report_progress(
                s, tenant_id=t, kind=kind, run_id=i[f"{kind}_run"], progress=0.5
            ),
        )
        for kind in RUN_KINDS
    ],
    *[
        (
            "runs.record_trial",
            f"{kind}_run",
            lambda s, t, i, kind=kind: repos.runs.record_trial(
                s, tenant_id=t, actor="b", kind=kind, run_id=i[f"{kind}_run"], trial={"score": 9.0}
            ),
        )
        for kind in RUN_KINDS
    ],
    *[
        (
            "versions.create_version",
            key,
            lambda s, t, i: repos.versions.create_version(
                s,
                tenant_id=t,
                actor="b",
                program_id=i["program"],
                state=program_state("b's"),
                parent_id=i["version"],
                optimizer_run_id=i["optimizer_run"],
                dataset_id=i["dataset"],
            ),
        )
        for key in ("program", "version", "optimizer_run", "dataset")
    ],
]

# Writes that take no id of an existing row: they can only create rows in the caller's own tenant.
NO_ID_WRITES = {
    "api_keys.create_api_key",
    "cache.purge_cache",
    "datasets.create_dataset",
    "datasets.import_file",
    "datasets.import_builtin",
    "programs.create_program",
    "providers.create_provider",
    "signatures.create_signature",
    "tenants.create_tenant",
    "traces.prune_traces",
    "users.create_user",
    "idempotency.save",
    "optimizer_configs.create_optimizer_config",
}
# Writes naming a row of no tenant: any existing account can be made a member (accounts are global), and
# the sweep of old idempotency records is maintenance over every tenant.
# A run worker works for every tenant: it renews its own lease by run id and owner.
GLOBAL_WRITES = {"memberships.add_member", "idempotency.prune", "runs.renew_lease"}
# Not writes of a resource: authentication looks a key up across tenants by its hash (that is the
# point); audit.create_named, audit.delete, audit.record and audit.record_event are what the writes above call.
# Password and session checks look across tenants the same way, and the throttled "last used" / "last
# seen" stamps are bookkeeping of an authentication just made, given the principal's own id.
NOT_WRITES = {
    "api_keys.authenticate",
    "api_keys.touch_last_used",
    "users.verify_password",
    "user_sessions.authenticate_session",
    "user_sessions.touch_session",
    "audit.create_named",
    "audit.delete",
    "audit.record",
    "audit.record_event",
    # reads: a worker's look across tenants for runs to claim or whose lease ran out; a run's results
    "runs.claimable",
    "runs.expired_leases",
    "evaluations.recorded_positions",
}


def test_every_write_function_is_in_the_table() -> None:
    found = {
        f"{module_name}.{name}"
        for module_name in repos.__all__
        for name, fn in inspect.getmembers(getattr(repos, module_name), inspect.iscoroutinefunction)
        if not name.startswith(READ_PREFIXES)
        and not name.startswith("_")
        and fn.__module__ == getattr(repos, module_name).__name__
    }
    assert found == {name for name, _, _ in WRITES} | NO_ID_WRITES | GLOBAL_WRITES | NOT_WRITES


def _id_params(name: str) -> list[str]:
    """The parameters of a repository function that name rows: `…_id` (the caller's tenant aside), `results`."""
    module_name, fn_name = name.split(".")
    params = inspect.signature(getattr(getattr(repos, module_name), fn_name)).parameters
    return [p for p in params if (p.endswith("_id") and p != "tenant_id") or p == "results"]


def test_every_id_parameter_of_every_write_is_tried() -> None:
    """Each write has a case for each parameter that names a row, so none is forgotten; the writes said
    to take no id take none."""
    # which ids of the world each parameter takes (`run_id` takes the run of the function's `kind`)
    per_param = {"key_id": {"api_key"}, "provider_id": {"provider"}, "program_id": {"program"},
                 "dataset_id": {"dataset"}, "parent_id": {"version"}, "base_version_id": {"version"},
                 "result_version_id": {"version"}, "version_id": {"version"},
                 "optimizer_run_id": {"optimizer_run"}, "run_id": {"optimizer_run", "evaluation_run"},
                 "results": {"example", "trace"}, "user_id": {"user"}, "session_id": {"user_session"},
                 "config_id": {"optimizer_config"}, "metric_id": {"metric"},
                 "signature_id": {"signature"}, "module_id": {"module"}}  # fmt: skip
    tried = {(name, key) for name, key, _ in WRITES}
    for name in {name for name, _, _ in WRITES}:
        for param in _id_params(name):
            assert param in per_param, f"{name}({param}=...): say which id it takes, and add its cases"
            assert {(name, key) for key in per_param[param]} & tried, f"{name}({param}=other's) is not tried"
        if "results" in _id_params(name):
            assert {(name, "example"), (name, "trace")} <= tried, name
    for name in NO_ID_WRITES:
        assert _id_params(name) == [], f"{name} takes {_id_params(name)}: give it cases in WRITES"


class _Rollback(Exception):
    pass


async def _fingerprint(s: AsyncSession, tenants: tuple[uuid.UUID, ...]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that belongs to these tenants, every column (user accounts: the members')."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    members = select(Membership.user_id).where(Membership.tenant_id.in_(tenants))
    for table in Base.metadata.sorted_tables:
        if "tenant_id" in table.c:
            where = table.c.tenant_id.in_(tenants)
        else:
            assert table.name == "user_account"
            where = table.c.id.in_(members)
        rows = (await s.execute(select(table).where(where))).all()
        out[table.name] = sorted((tuple(r) for r in rows), key=lambda r: str(r))
    return out


@pytest.mark.parametrize(("name", "key", "call"), WRITES, ids=[f"{n}-{k}" for n, k, _ in WRITES])
async def test_no_write_accepts_another_tenants_id(
    db: Database,
    tenant: uuid.UUID,
    other_tenant: uuid.UUID,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    key: str,
    call: WriteCall,
) -> None:
    theirs = (await _populate(db, tenant, monkeypatch)).ids
    mine = (await _populate(db, other_tenant, monkeypatch)).ids
    # with its own ids the call goes through (so a refusal below is the foreign id's doing) ...
    with pytest.raises(_Rollback):
        async with db.transaction() as s:
            await call(s, other_tenant, mine)
            raise _Rollback
    async with db.transaction() as s:
        before = await _fingerprint(s, (tenant, other_tenant))
    # ... with one id of tenant A's it is "not found", worded exactly as for an id that exists nowhere
    errors: list[NotFoundError] = []
    for foreign in (theirs[key], uuid.uuid4()):
        with pytest.raises(NotFoundError) as refused:
            async with db.transaction() as s:
                await call(s, other_tenant, {**mine, key: foreign})
        errors.append(refused.value)
        assert str(refused.value).replace(str(foreign), "<id>") == str(errors[0]).replace(
            str(theirs[key]), "<id>"
        )
    assert type(errors[0]) is type(errors[1]) and errors[0].resource == errors[1].resource
    async with db.transaction() as s:
        assert await _fingerprint(s, (tenant, other_tenant)) == before, f"{name} changed rows"
