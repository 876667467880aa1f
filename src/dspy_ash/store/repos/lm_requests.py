"""Usage statistics from the LM request log: per provider, model, program and tenant."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store.models import LMRequestLog

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
