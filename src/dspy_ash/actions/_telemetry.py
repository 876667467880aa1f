"""What executions leave behind: traces with their spans, the LM request log, `inspect_history`, usage.

All of it is written by the trace recorder (an event subscriber), never through these actions; here it
is only read. Usage figures are aggregated in SQL (`repos.lm_requests.usage_summary`).
"""

from __future__ import annotations

import io
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, Field

from dspy_ash.actions._context import ActionContext
from dspy_ash.actions._paging import page_of
from dspy_ash.actions._registry import Http, action
from dspy_ash.actions._schemas import ListRequest, Page, Public, Request
from dspy_ash.lm import pretty_print_history
from dspy_ash.store import repos
from dspy_ash.store.models import LMRequestLog, Trace, TraceSpan

GroupBy = Literal["provider", "model", "program"]
MAX_SPANS = 10_000


class Window(Request):
    since: AwareDatetime | None = Field(None, description="from this time (inclusive)")
    until: AwareDatetime | None = Field(None, description="to this time (exclusive)")


class TraceList(ListRequest):
    program_id: uuid.UUID | None = None
    version_id: uuid.UUID | None = None
    status: Literal["ok", "error"] | None = None
    since: AwareDatetime | None = Field(None, description="started at or after")
    until: AwareDatetime | None = Field(None, description="started before")
    sort: str = Field(
        "-started_at", max_length=64, description="`started_at` or `duration`; `-` for descending"
    )


class TracePublic(Public):
    id: uuid.UUID
    program_id: uuid.UUID | None
    version_id: uuid.UUID | None
    name: str
    call_id: str
    status: str
    started_at: datetime
    duration: float
    inputs: Any
    outputs: Any
    error: str | None
    span_count: int
    total_tokens: int
    cost: float | None


class SpanPublic(Public):
    id: uuid.UUID
    call_id: str
    parent_call_id: str | None
    depth: int = Field(0, description="0 for the trace's root call, 1 for what it called, ...")
    kind: str
    name: str
    started_at: datetime
    duration: float
    inputs: Any
    outputs: Any
    prompt: Any = Field(description="LM spans: the messages sent")
    reply: str | None
    model: str | None
    prompt_tokens: int
    completion_tokens: int
    latency: float | None
    cost: float | None
    cache_hit: bool
    error: str | None


class TraceDetail(TracePublic):
    spans: list[SpanPublic] = Field(description="in tree order: each call followed by the calls it made")


class TraceRef(Request):
    trace_id: uuid.UUID


class LMRequestList(ListRequest):
    provider: str | None = Field(None, max_length=100)
    model: str | None = Field(None, max_length=200)
    program_id: uuid.UUID | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    sort: str = Field(
        "-created_at", max_length=64, description="`created_at` or `latency`; `-` for descending"
    )


class LMRequestPublic(Public):
    id: uuid.UUID
    provider: str
    model: str
    program_id: uuid.UUID | None
    trace_id: uuid.UUID | None
    call_id: str
    latency: float
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost: float | None
    cache_hit: bool
    error: str | None
    created_at: datetime


class HistoryRequest(Request):
    n: int = Field(1, ge=1, le=100, description="how many of the last calls")
    provider: str | None = Field(None, max_length=100)
    model: str | None = Field(None, max_length=200)
    program_id: uuid.UUID | None = None


class HistoryEntry(LMRequestPublic):
    messages: Any = Field(description="what was sent (None when the call's trace has been pruned)")
    outputs: list[str] = Field(description="the reply")


class History(Public):
    text: str = Field(description="as DSPy's `inspect_history(n)` prints it (without colours)")
    calls: list[HistoryEntry] = Field(description="the same calls, oldest first")


class UsageRequest(Window):
    group_by: list[GroupBy] = Field(["provider", "model"], max_length=3)
    provider: str | None = Field(None, max_length=100)
    model: str | None = Field(None, max_length=200)
    program_id: uuid.UUID | None = None


class UsageGroup(Public):
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
    latency_avg: float | None = Field(description="seconds")
    latency_p50: float | None
    latency_p95: float | None
    latency_p99: float | None


class Usage(Public):
    since: AwareDatetime | None
    until: AwareDatetime | None
    groups: list[UsageGroup] = Field(description="the busiest groups first (at most 1000)")


def tree_order(spans: list[TraceSpan]) -> list[SpanPublic]:
    """Spans depth first from the root, children by start time; a span whose parent is missing is a root."""
    ids = {s.call_id for s in spans}
    children: dict[str | None, list[TraceSpan]] = {}
    for span in sorted(spans, key=lambda s: (s.started_at, s.call_id)):
        parent = span.parent_call_id if span.parent_call_id in ids else None
        children.setdefault(parent, []).append(span)
    out: list[SpanPublic] = []
    stack: list[tuple[TraceSpan, int]] = [(s, 0) for s in reversed(children.get(None, []))]
    while stack:  # iterative: a deep trace must not hit the recursion limit
        span, depth = stack.pop()
        out.append(SpanPublic.model_validate(span).model_copy(update={"depth": depth}))
        stack += [(c, depth + 1) for c in reversed(children.get(span.call_id, []))]
    return out


@action("traces.list", resource="trace", kind="list", scope="traces:read", http=Http("GET", "/traces"))
async def list_traces(ctx: ActionContext, request: TraceList) -> Page[TracePublic]:
    """List traces, newest first; filter by program, version, status and a time window."""
    where = [Trace.started_at >= request.since] if request.since else []
    where += [Trace.started_at < request.until] if request.until else []
    equal = {"program_id": request.program_id, "version_id": request.version_id, "status": request.status}
    return await page_of(
        ctx, Trace, TracePublic, request, *where, sorts=("started_at", "duration"), equal=equal
    )


@action("traces.get", resource="trace", kind="read", scope="traces:read",
        http=Http("GET", "/traces/{trace_id}"))  # fmt: skip
async def get_trace(ctx: ActionContext, request: TraceRef) -> TraceDetail:
    """A trace with its spans in tree order (every module, LM and tool call, with prompts and replies)."""
    found = await repos.traces.get_trace(ctx.session, tenant_id=ctx.tenant_id, trace_id=request.trace_id)
    trace = TracePublic.model_validate(found.trace)
    return TraceDetail(**trace.model_dump(), spans=tree_order(found.spans[:MAX_SPANS]))


@action("lm_requests.list", resource="lm_request", kind="list", scope="lm_requests:read",
        http=Http("GET", "/lm-requests"))  # fmt: skip
async def list_lm_requests(ctx: ActionContext, request: LMRequestList) -> Page[LMRequestPublic]:
    """The LM request log, newest first; filter by provider, model, program and a time window."""
    where = [LMRequestLog.created_at >= request.since] if request.since else []
    where += [LMRequestLog.created_at < request.until] if request.until else []
    equal = {"provider": request.provider, "model": request.model, "program_id": request.program_id}
    sorts = ("created_at", "latency")
    return await page_of(ctx, LMRequestLog, LMRequestPublic, request, *where, sorts=sorts, equal=equal)


def _history_text(calls: list[HistoryEntry]) -> str:
    entries = [
        {"messages": c.messages or [], "outputs": c.outputs or [""], "timestamp": c.created_at.isoformat()}
        for c in calls
    ]
    out = io.StringIO()
    pretty_print_history(entries, len(entries), out)  # a file: no colours
    return out.getvalue()


@action("lm_requests.history", resource="lm_request", kind="read", scope="lm_requests:read",
        http=Http("GET", "/lm-requests/history"))  # fmt: skip
async def lm_history(ctx: ActionContext, request: HistoryRequest) -> History:
    """DSPy's `inspect_history(n)`: the last n LM calls, as its text and as JSON."""
    calls = await repos.lm_requests.list_recent_calls(
        ctx.session,
        tenant_id=ctx.tenant_id,
        n=request.n,
        provider=request.provider,
        model=request.model,
        program_id=request.program_id,
    )
    entries = [
        HistoryEntry(
            **LMRequestPublic.model_validate(c.request).model_dump(),
            messages=c.messages,
            outputs=[] if c.reply is None else [c.reply],
        )
        for c in calls
    ]
    return History(text=_history_text(entries), calls=entries)


@action("lm_requests.usage", resource="lm_request", kind="read", scope="lm_requests:read",
        http=Http("GET", "/lm-requests/usage"))  # fmt: skip
async def lm_usage(ctx: ActionContext, request: UsageRequest) -> Usage:
    """Usage per provider, model and/or program over a time window: requests, errors, cache hits, tokens,
    cost, and average and p50/p95/p99 latency, aggregated in SQL."""
    groups = await repos.lm_requests.usage_summary(
        ctx.session,
        tenant_id=ctx.tenant_id,
        group_by=tuple(dict.fromkeys(request.group_by)),
        since=request.since,
        until=request.until,
        provider=request.provider,
        model=request.model,
        program_id=request.program_id,
    )
    return Usage(
        since=request.since, until=request.until, groups=[UsageGroup.model_validate(g) for g in groups]
    )
