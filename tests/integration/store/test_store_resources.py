"""Repository functions the service's resource actions use: deletes, explicit splits, export text, the
SQL usage summary (against the Python one), the last LM calls with their prompts, the cache's figures."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dspy_ash.store import Database, NotFoundError, repos
from dspy_ash.store.models import AuditEvent, ExampleRow, LMCacheEntry, LMRequestLog, Trace, TraceSpan

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def test_delete_signature_and_dataset_are_audited(
    db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID
) -> None:
    async with db.transaction() as s:
        sig = await repos.signatures.create_signature(
            s, tenant_id=tenant, actor="t", name="qa", spec="q -> a"
        )
        data = await repos.datasets.create_dataset(
            s, tenant_id=tenant, actor="t", name="d", records=[{"q": 1}] * 3
        )
    async with db.transaction() as s:
        with pytest.raises(NotFoundError):
            await repos.signatures.delete_signature(s, tenant_id=other_tenant, actor="t", signature_id=sig.id)
        await repos.signatures.delete_signature(s, tenant_id=tenant, actor="t", signature_id=sig.id)
        await repos.datasets.delete_dataset(s, tenant_id=tenant, actor="t", dataset_id=data.id)
    async with db.transaction() as s:
        left = (
            await s.execute(
                select(func.count()).select_from(ExampleRow).where(ExampleRow.tenant_id == tenant)
            )
        ).scalar_one()
        events = (await s.execute(select(AuditEvent.action, AuditEvent.resource_type).where(
            AuditEvent.tenant_id == tenant, AuditEvent.action == "delete"))).all()  # fmt: skip
    assert left == 0
    assert sorted(events) == [("delete", "dataset"), ("delete", "signature")]


async def test_explicit_splits_and_export_text(db: Database, tenant: uuid.UUID) -> None:
    records = [{"q": str(i)} for i in range(5)]
    async with db.transaction() as s:
        data = await repos.datasets.create_dataset(s, tenant_id=tenant, actor="t", name="d", records=records)
        counts = await repos.datasets.set_splits(s, tenant_id=tenant, actor="t", dataset_id=data.id,
                                                 splits={"train": [0, 1], "test": [4]})  # fmt: skip
        assert counts == {"train": 2, "dev": 0, "test": 1}
        for bad in ({"train": [5]}, {"train": [1], "dev": [1]}, {"holdout": [0]}):
            with pytest.raises(ValueError):
                await repos.datasets.set_splits(
                    s, tenant_id=tenant, actor="t", dataset_id=data.id, splits=bad
                )
        text, n = await repos.datasets.export_text(
            s, tenant_id=tenant, dataset_id=data.id, fmt="jsonl", split="train"
        )
        assert (n, text) == (2, '{"q": "0", "split": "train"}\n{"q": "1", "split": "train"}\n')
        csv_text, _ = await repos.datasets.export_text(s, tenant_id=tenant, dataset_id=data.id, fmt="csv")
        assert csv_text.splitlines()[0] == "q,split" and csv_text.splitlines()[3] == "2,"


async def _log(db: Database, tenant: uuid.UUID, n: int) -> None:
    rng = random.Random(5)
    programs = [uuid.uuid4(), None]
    async with db.transaction() as s:
        for i in range(n):
            s.add(LMRequestLog(tenant_id=tenant, provider=rng.choice(["openai", "anthropic"]),
                               model=rng.choice(["m1", "m2", "m3"]), program_id=rng.choice(programs),
                               call_id=str(i), latency=round(rng.random() * 3, 3), prompt_tokens=rng.randint(0, 50),
                               completion_tokens=rng.randint(0, 50), total_tokens=rng.randint(0, 100),
                               cost=rng.choice([None, 0.01]), cache_hit=rng.random() < 0.3,
                               error=rng.choice([None, None, "boom"]), created_at=T0 + timedelta(seconds=i)))  # fmt: skip


@pytest.mark.parametrize("group_by", [("provider", "model"), ("program",), ()])
async def test_usage_summary_in_sql_matches_the_python_figures(
    db: Database, tenant: uuid.UUID, group_by: tuple[repos.lm_requests.GroupBy, ...]
) -> None:
    await _log(db, tenant, 300)
    since, until = T0 + timedelta(seconds=20), T0 + timedelta(seconds=260)
    async with db.transaction() as s:
        sql = await repos.lm_requests.usage_summary(
            s, tenant_id=tenant, group_by=group_by, since=since, until=until
        )
        python = await repos.lm_requests.usage_stats(
            s, tenant_id=tenant, group_by=group_by, since=since, until=until
        )
    assert sum(g.requests for g in sql) == 240
    expected = {k.key: k for k in python}
    assert len(sql) == len(expected)
    for group in sql:
        named = {"provider": group.provider, "model": group.model, "program": group.program_id}
        other = expected[tuple(None if named[g] is None else str(named[g]) for g in group_by)]
        assert (group.requests, group.errors, group.cache_hits) == (
            other.calls,
            other.errors,
            other.cache_hits,
        )
        assert (group.prompt_tokens, group.total_tokens) == (other.prompt_tokens, other.total_tokens)
        assert group.cost == pytest.approx(other.cost)
        for mine, theirs in ((group.latency_p50, other.latency_p50), (group.latency_p95, other.latency_p95),
                             (group.latency_p99, other.latency_p99)):  # fmt: skip
            assert mine == pytest.approx(theirs)
    async with db.transaction() as s:
        empty = await repos.lm_requests.usage_summary(s, tenant_id=uuid.uuid4(), group_by=group_by)
    assert empty == []


async def test_recent_calls_join_their_spans_oldest_first(db: Database, tenant: uuid.UUID) -> None:
    trace_id = uuid.uuid4()
    async with db.transaction() as s:
        s.add(
            Trace(
                id=trace_id, tenant_id=tenant, name="p", call_id="r", status="ok", started_at=T0, duration=1.0
            )
        )
        await s.flush()
        for i in range(3):
            at = T0 + timedelta(seconds=i)
            s.add(TraceSpan(tenant_id=tenant, trace_id=trace_id, call_id=f"c{i}", kind="lm", name="m",
                            started_at=at, duration=0.1, prompt=[{"role": "user", "content": str(i)}], reply=f"r{i}"))  # fmt: skip
            s.add(LMRequestLog(tenant_id=tenant, provider="p", model="m", trace_id=trace_id, call_id=f"c{i}",
                               latency=0.1, created_at=at))  # fmt: skip
        s.add(LMRequestLog(tenant_id=tenant, provider="q", model="m", call_id="lone", latency=0.1,
                           created_at=T0 - timedelta(seconds=1)))  # fmt: skip
    async with db.transaction() as s:
        calls = await repos.lm_requests.list_recent_calls(s, tenant_id=tenant, n=2)
        everything = await repos.lm_requests.list_recent_calls(s, tenant_id=tenant, n=10)
        only_q = await repos.lm_requests.list_recent_calls(s, tenant_id=tenant, n=10, provider="q")
    assert [(c.reply, c.messages[0]["content"]) for c in calls] == [("r1", "1"), ("r2", "2")]
    assert len(everything) == 4 and everything[0].reply is None and everything[0].messages is None
    assert [c.request.call_id for c in only_q] == ["lone"]


async def test_cache_stats_and_purge(db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID) -> None:
    now = datetime.now(UTC)
    async with db.transaction() as s:
        for owner, model, expires in [(tenant, "gpt-4o", now + timedelta(hours=1)), (tenant, "gpt-4o", now - timedelta(hours=1)),
                                      (tenant, "claude", None), (other_tenant, "gpt-4o", None)]:  # fmt: skip
            s.add(
                LMCacheEntry(
                    tenant_id=owner,
                    key=uuid.uuid4().hex,
                    value={"model": model, "t": "é"},
                    expires_at=expires,
                )
            )
    async with db.transaction() as s:
        stats = await repos.cache.get_cache_stats(s, tenant_id=tenant)
        assert (stats.entries, stats.expired, stats.requests) == (3, 1, 0)
        assert stats.bytes >= 3 * len('{"model": "claude", "t": "é"}'.encode()) - 6
        assert await repos.cache.purge_cache(s, tenant_id=tenant, actor="t", expired_only=True) == 1
        assert await repos.cache.purge_cache(s, tenant_id=tenant, actor="t", model="openai/gpt-4o") == 1
        assert await repos.cache.purge_cache(s, tenant_id=tenant, actor="t") == 1
        assert (await repos.cache.get_cache_stats(s, tenant_id=tenant)).entries == 0
        assert (await repos.cache.get_cache_stats(s, tenant_id=other_tenant)).entries == 1
        purges = (await s.execute(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.tenant_id == tenant, AuditEvent.action == "purge"))).scalar_one()  # fmt: skip
    assert purges == 3
