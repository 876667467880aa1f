"""The LM request log: usage statistics per provider, model, program and tenant, and the last calls."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store.models import LMRequestLog, TraceSpan

GroupBy = Literal["provider", "model", "program"]

# One LM call as usage_stats reads it: latency, failed, cache hit, prompt/completion/total tokens, cost.
_Call = tuple[float, bool, bool, int, int, int, float]
_GROUP_COLUMNS = {
    "provider": LMRequestLog.provider,
    "model": LMRequestLog.model,
    "program": LMRequestLog.program_id,
}


@dataclass(frozen=True, slots=True)
class UsageStats:
    key: tuple[str | None, ...]
    calls: int
    errors: int
    cache_hits: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float
    latency_p50: float | None
    latency_p95: float | None
    latency_p99: float | None

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (what PostgreSQL's percentile_cont does)."""
    if not sorted_values:
        return None
    position = (len(sorted_values) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


async def usage_stats(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    group_by: tuple[GroupBy, ...] = ("model",),
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[UsageStats]:
    """Calls, errors, tokens, cost and latency percentiles of the tenant's LM calls, grouped as asked.

    Percentiles are computed here rather than in SQL so SQLite and PostgreSQL answer identically;
    only the grouped columns and latency are fetched.
    """
    keys = [_GROUP_COLUMNS[g] for g in group_by]
    result = await session.execute(_usage_query(tenant_id, keys, since, until))
    groups = _group_calls(result.all(), len(keys))
    return [
        _stats(key, calls)
        for key, calls in sorted(groups.items(), key=lambda kv: tuple(str(k) for k in kv[0]))
    ]


def _usage_query(
    tenant_id: uuid.UUID, keys: list[Any], since: datetime | None, until: datetime | None
) -> Select[*tuple[Any, ...]]:
    stmt = select(
        *keys,
        LMRequestLog.latency,
        LMRequestLog.error,
        LMRequestLog.cache_hit,
        LMRequestLog.prompt_tokens,
        LMRequestLog.completion_tokens,
        LMRequestLog.total_tokens,
        LMRequestLog.cost,
    ).where(LMRequestLog.tenant_id == tenant_id)
    if since is not None:
        stmt = stmt.where(LMRequestLog.created_at >= since)
    if until is not None:
        stmt = stmt.where(LMRequestLog.created_at < until)
    return stmt


def _group_calls(rows: Sequence[Any], n_keys: int) -> dict[tuple[str | None, ...], list[_Call]]:
    """The rows' calls by their first `n_keys` columns (as text, None kept)."""
    groups: dict[tuple[str | None, ...], list[_Call]] = defaultdict(list)
    for row in rows:
        values: list[Any] = list(row)
        key = tuple(None if v is None else str(v) for v in values[:n_keys])
        latency, error, hit, pt, ct, tt, cost = values[n_keys:]
        groups[key].append(
            (float(latency), error is not None, bool(hit), int(pt), int(ct), int(tt), float(cost or 0.0))
        )
    return groups


def _stats(key: tuple[str | None, ...], calls: list[_Call]) -> UsageStats:
    latencies = sorted(c[0] for c in calls)
    return UsageStats(
        key=key,
        calls=len(calls),
        errors=sum(c[1] for c in calls),
        cache_hits=sum(c[2] for c in calls),
        prompt_tokens=sum(c[3] for c in calls),
        completion_tokens=sum(c[4] for c in calls),
        total_tokens=sum(c[5] for c in calls),
        cost=sum(c[6] for c in calls),
        latency_p50=percentile(latencies, 0.5),
        latency_p95=percentile(latencies, 0.95),
        latency_p99=percentile(latencies, 0.99),
    )


@dataclass(frozen=True, slots=True)
class UsageSummary:
    """One group's figures, aggregated in SQL: the key is (provider, model, program) as grouped, else None."""

    provider: str | None
    model: str | None
    program_id: uuid.UUID | None
    requests: int
    errors: int
    cache_hits: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float
    latency_avg: float | None
    latency_p50: float | None
    latency_p95: float | None
    latency_p99: float | None


_QUANTILES = (50, 95, 99)  # percent, as integers so the rank arithmetic stays integer in SQL


def _window(
    tenant_id: uuid.UUID, since: datetime | None, until: datetime | None, equal: dict[str, Any]
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [LMRequestLog.tenant_id == tenant_id]
    if since is not None:
        where.append(LMRequestLog.created_at >= since)
    if until is not None:
        where.append(LMRequestLog.created_at < until)
    where += [getattr(LMRequestLog, k) == v for k, v in equal.items() if v is not None]
    return where


async def usage_summary(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    group_by: tuple[GroupBy, ...] = ("provider", "model"),
    since: datetime | None = None,
    until: datetime | None = None,
    provider: str | None = None,
    model: str | None = None,
    program_id: uuid.UUID | None = None,
    max_groups: int = 1000,
) -> list[UsageSummary]:
    """Requests, errors, cache hits, tokens, cost and average latency per group in one GROUP BY, and the
    p50/p95/p99 latencies in one more query (ranks by window functions: only the rows at those ranks
    leave the database), so the cost does not grow with the rows fetched. The busiest groups first."""
    keys = [_GROUP_COLUMNS[g] for g in group_by]
    where = _window(tenant_id, since, until, {"provider": provider, "model": model, "program_id": program_id})
    hit = func.sum(case((LMRequestLog.cache_hit.is_(True), 1), else_=0))
    stmt = (
        select(
            *keys,
            func.count(),
            func.count(LMRequestLog.error),
            hit,
            func.sum(LMRequestLog.prompt_tokens),
            func.sum(LMRequestLog.completion_tokens),
            func.sum(LMRequestLog.total_tokens),
            func.sum(LMRequestLog.cost),
            func.avg(LMRequestLog.latency),
        )
        .where(*where)
        .group_by(*keys)
        .order_by(func.count().desc(), *keys)
        .limit(max_groups)
    )
    rows = (await session.execute(stmt)).all()
    quantiles = await _latency_quantiles(session, keys, where)
    # without grouping and without rows, the aggregate still answers one empty row: skipped
    return [_summary(group_by, list(row), quantiles) for row in rows if row[len(keys)]]


def _summary(
    group_by: tuple[GroupBy, ...],
    values: list[Any],
    quantiles: dict[tuple[Any, ...], tuple[float | None, ...]],
) -> UsageSummary:
    key = tuple(values[: len(group_by)])
    named = dict(zip(group_by, key, strict=True))
    requests, errors, hits, pt, ct, tt, cost, avg = values[len(group_by) :]
    p50, p95, p99 = quantiles.get(key, (None, None, None))
    return UsageSummary(
        provider=named.get("provider"),
        model=named.get("model"),
        program_id=named.get("program"),
        requests=int(requests),
        errors=int(errors),
        cache_hits=int(hits or 0),
        prompt_tokens=int(pt or 0),
        completion_tokens=int(ct or 0),
        total_tokens=int(tt or 0),
        cost=float(cost or 0.0),
        latency_avg=None if avg is None else float(avg),
        latency_p50=p50,
        latency_p95=p95,
        latency_p99=p99,
    )


async def _latency_quantiles(
    session: AsyncSession, keys: list[Any], where: list[ColumnElement[bool]]
) -> dict[tuple[Any, ...], tuple[float | None, ...]]:
    """Per group, the latencies at ranks floor and ceil of (n-1)*q, interpolated as `percentile` does."""
    ranked = (
        select(
            *keys,
            LMRequestLog.latency.label("latency"),
            (
                func.row_number().over(partition_by=keys, order_by=(LMRequestLog.latency, LMRequestLog.id))
                - 1
            ).label("rank"),
            func.count().over(partition_by=keys).label("n"),
        )
        .where(*where)
        .subquery()
    )
    rank, n = ranked.c["rank"], ranked.c["n"]
    wanted = [rank == (n - 1) * q // 100 for q in _QUANTILES]
    wanted += [rank == ((n - 1) * q + 99) // 100 for q in _QUANTILES]
    cols = [ranked.c[k.key] for k in keys]
    stmt = select(*cols, ranked.c["latency"], rank, n).where(or_(*wanted))
    at: dict[tuple[Any, ...], dict[int, float]] = defaultdict(dict)
    counts: dict[tuple[Any, ...], int] = {}
    for row in (await session.execute(stmt)).all():
        values: list[Any] = list(row)
        key = tuple(values[: len(keys)])
        latency, position, total = values[len(keys) :]
        at[key][int(position)] = float(latency)
        counts[key] = int(total)
    out: dict[tuple[Any, ...], tuple[float | None, ...]] = {}
    for key, positions in at.items():
        figures: list[float | None] = []
        for q in _QUANTILES:
            exact = (counts[key] - 1) * q / 100
            low, high = positions[math.floor(exact)], positions[math.ceil(exact)]
            figures.append(low + (high - low) * (exact - math.floor(exact)))
        out[key] = tuple(figures)
    return out


@dataclass(frozen=True, slots=True)
class LMCall:
    """One logged LM call with what its trace span kept: the messages sent and the reply."""

    request: LMRequestLog
    messages: Any
    reply: str | None


async def list_recent_calls(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    n: int,
    provider: str | None = None,
    model: str | None = None,
    program_id: uuid.UUID | None = None,
) -> list[LMCall]:
    """The last `n` LM calls, oldest first (as `inspect_history` prints them), each with its span's
    prompt and reply (None when the span is gone, for instance pruned with its trace)."""
    where = _window(tenant_id, None, None, {"provider": provider, "model": model, "program_id": program_id})
    span = and_(
        TraceSpan.tenant_id == LMRequestLog.tenant_id,
        TraceSpan.trace_id == LMRequestLog.trace_id,
        TraceSpan.call_id == LMRequestLog.call_id,
    )
    stmt = (
        select(LMRequestLog, TraceSpan.prompt, TraceSpan.reply)
        .outerjoin(TraceSpan, span)
        .where(*where)
        .order_by(LMRequestLog.created_at.desc(), LMRequestLog.id.desc())
        .limit(n)
    )
    rows = (await session.execute(stmt)).all()
    return [LMCall(request=r[0], messages=r[1], reply=r[2]) for r in reversed(rows)]
