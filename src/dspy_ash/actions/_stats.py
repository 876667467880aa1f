"""Monitoring per program, computed in SQL over its traces in a time window: executions, success rate,
average and p50/p95/p99 latency, tokens and cost.

Percentiles are linear interpolation between closest ranks, as PostgreSQL's `percentile_cont`, which
computes them there. SQLite has no such aggregate: there the two ranks each percentile needs are read
with `ORDER BY duration LIMIT 2 OFFSET k`, so the database never hands over more than six rows.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime

from pydantic import AwareDatetime, Field
from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.actions._context import ActionContext
from dspy_ash.actions._registry import Http, action
from dspy_ash.actions._schemas import Public, Request
from dspy_ash.store import repos
from dspy_ash.store.models import Trace

QUANTILES = (0.5, 0.95, 0.99)


class StatsRequest(Request):
    program_id: uuid.UUID
    since: AwareDatetime | None = Field(
        None, description="from this time (inclusive); default: the first trace"
    )
    until: AwareDatetime | None = Field(None, description="to this time (exclusive); default: open")


class ProgramStats(Public):
    program_id: uuid.UUID
    since: datetime | None
    until: datetime | None
    executions: int
    succeeded: int
    failed: int
    success_rate: float | None = Field(description="succeeded / executions; null without executions")
    latency_avg: float | None = Field(description="seconds")
    latency_p50: float | None
    latency_p95: float | None
    latency_p99: float | None
    total_tokens: int
    cost: float | None


def _window(request: StatsRequest, tenant_id: uuid.UUID) -> list[ColumnElement[bool]]:
    where = [Trace.tenant_id == tenant_id, Trace.program_id == request.program_id]
    if request.since is not None:
        where.append(Trace.started_at >= request.since)
    if request.until is not None:
        where.append(Trace.started_at < request.until)
    return where


async def _percentiles_postgresql(
    session: AsyncSession, where: list[ColumnElement[bool]]
) -> list[float | None]:
    columns = [func.percentile_cont(q).within_group(Trace.duration) for q in QUANTILES]
    row = (await session.execute(select(*columns).where(*where))).one()
    return [None if v is None else float(v) for v in row]


async def _percentiles_ranked(
    session: AsyncSession, where: list[ColumnElement[bool]], count: int
) -> list[float | None]:
    """The same interpolation from the two ranks around each position, read by offset."""
    values: list[float | None] = []
    for q in QUANTILES:
        if count == 0:
            values.append(None)
            continue
        position = (count - 1) * q
        low = math.floor(position)
        stmt = select(Trace.duration).where(*where).order_by(Trace.duration).offset(low).limit(2)
        ranks = [float(v) for v in (await session.execute(stmt)).scalars()]
        high = ranks[1] if len(ranks) > 1 else ranks[0]
        values.append(ranks[0] + (high - ranks[0]) * (position - low))
    return values


@action("programs.stats", resource="program", kind="read", scope="programs:read",
        http=Http("GET", "/programs/{program_id}/stats"))  # fmt: skip
async def program_stats(ctx: ActionContext, request: StatsRequest) -> ProgramStats:
    """Executions, success rate, latency (average, p50/p95/p99), tokens and cost of a program's traces in
    a time window."""
    await repos.programs.get_program(ctx.session, tenant_id=ctx.tenant_id, program_id=request.program_id)
    where = _window(request, ctx.tenant_id)
    ok = func.sum(case((Trace.status == "ok", 1), else_=0))
    totals = select(
        func.count(), ok, func.avg(Trace.duration), func.sum(Trace.total_tokens), func.sum(Trace.cost)
    )
    count, succeeded, average, tokens, cost = (await ctx.session.execute(totals.where(*where))).one()
    count = int(count)
    if ctx.session.get_bind().dialect.name == "postgresql":
        p50, p95, p99 = await _percentiles_postgresql(ctx.session, where)
    else:
        p50, p95, p99 = await _percentiles_ranked(ctx.session, where, count)
    succeeded = int(succeeded or 0)
    return ProgramStats(
        program_id=request.program_id,
        since=request.since,
        until=request.until,
        executions=count,
        succeeded=succeeded,
        failed=count - succeeded,
        success_rate=succeeded / count if count else None,
        latency_avg=None if average is None else float(average),
        latency_p50=p50,
        latency_p95=p95,
        latency_p99=p99,
        total_tokens=int(tokens or 0),
        cost=None if cost is None else float(cost),
    )
