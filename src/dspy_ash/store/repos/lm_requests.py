"""Usage statistics from the LM request log: per provider, model, program and tenant."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store.models import LMRequestLog

GroupBy = Literal["provider", "model", "program"]


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
    columns = {
        "provider": LMRequestLog.provider,
        "model": LMRequestLog.model,
        "program": LMRequestLog.program_id,
    }
    keys = [columns[g] for g in group_by]
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
    groups: dict[tuple[str | None, ...], list[tuple[float, bool, bool, int, int, int, float]]] = defaultdict(
        list
    )
    n = len(keys)
    for row in (await session.execute(stmt)).all():
        values: list[Any] = list(row)
        key = tuple(None if v is None else str(v) for v in values[:n])
        latency, error, hit, pt, ct, tt, cost = values[n:]
        groups[key].append(
            (float(latency), error is not None, bool(hit), int(pt), int(ct), int(tt), float(cost or 0.0))
        )
    out: list[UsageStats] = []
    for key, rows in sorted(groups.items(), key=lambda kv: tuple(str(k) for k in kv[0])):
        latencies = sorted(r[0] for r in rows)
        out.append(
            UsageStats(
                key=key,
                calls=len(rows),
                errors=sum(r[1] for r in rows),
                cache_hits=sum(r[2] for r in rows),
                prompt_tokens=sum(r[3] for r in rows),
                completion_tokens=sum(r[4] for r in rows),
                total_tokens=sum(r[5] for r in rows),
                cost=sum(r[6] for r in rows),
                latency_p50=percentile(latencies, 0.5),
                latency_p95=percentile(latencies, 0.95),
                latency_p99=percentile(latencies, 0.99),
            )
        )
    return out
