"""Every LM call the service makes for a tenant runs here: under the tenant's LM, cache namespace and usage
tracker, recorded by the process's one `TraceRecorder` as a trace whose id is chosen in advance (so the
response can carry it before the trace is written).

    async with traced_call(ctx, lm, program_id=program.id) as call:
        prediction = await module.acall(**inputs)
    call.trace_id, call.usage, call.cost, call.latency
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from pydantic import BaseModel

from dspy_ash.actions._context import ActionContext, Services
from dspy_ash.actions._retrieval import engine_overrides, service_retriever
from dspy_ash.lm import BaseLM, UsageTracker, track_usage
from dspy_ash.settings import read, settings
from dspy_ash.store import TraceRecorder, trace_context

_RECORDER = "serving.trace_recorder"
_RECORDER_LOCK = "serving.trace_recorder_lock"
# The recorder's fallback tenant. Never used: every traced call names its tenant (trace_context).
_NO_TENANT = uuid.UUID(int=0)


class Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass(slots=True)
class TracedCall:
    """What one traced call leaves for its response: its trace id, and once it ended, usage and time."""

    trace_id: uuid.UUID
    tracker: UsageTracker
    started: float = field(default_factory=time.perf_counter)
    latency: float = 0.0

    @property
    def usage(self) -> Usage:
        totals = Usage()
        for counts in self.tracker.get_total_tokens().values():
            totals.prompt_tokens += int(counts.get("prompt_tokens") or 0)
            totals.completion_tokens += int(counts.get("completion_tokens") or 0)
            totals.total_tokens += int(counts.get("total_tokens") or 0)
        return totals

    @property
    def cost(self) -> float | None:
        has_cost = any("cost" in e for entries in self.tracker.usage_data.values() for e in entries)
        return self.tracker.total_cost if has_cost else None


async def recorder_of(services: Services) -> TraceRecorder:
    """The process's trace recorder, started on first use (or by `start_serving` at start-up)."""
    recorder = services.extras.get(_RECORDER)
    if recorder is not None:
        return recorder
    lock: asyncio.Lock = services.extras.setdefault(_RECORDER_LOCK, asyncio.Lock())
    async with lock:
        if _RECORDER not in services.extras:
            # its writer thread connects and checks the schema before the constructor returns
            services.extras[_RECORDER] = await asyncio.to_thread(
                TraceRecorder, services.db.url, tenant_id=_NO_TENANT
            )
    return services.extras[_RECORDER]


async def start_serving(services: Services) -> None:
    """Start what serving needs once per process (the trace recorder, the corpus's index), so no first
    call waits for it and a corpus that cannot be read stops the start."""
    await recorder_of(services)
    await asyncio.to_thread(service_retriever, services)


async def stop_serving(services: Services) -> None:
    """Write the traces still queued and stop the recorder's thread."""
    recorder: TraceRecorder | None = services.extras.pop(_RECORDER, None)
    if recorder is not None:
        await recorder.aclose()


@asynccontextmanager
async def traced_call(
    ctx: ActionContext,
    lm: BaseLM,
    *,
    program_id: uuid.UUID | None = None,
    version_id: uuid.UUID | None = None,
) -> AsyncGenerator[TracedCall]:
    """Run the block under `lm`, the tenant's cache namespace and the recorder; one top-level call only."""
    recorder = await recorder_of(ctx.services)
    call = TracedCall(trace_id=uuid.uuid4(), tracker=UsageTracker())
    overrides = {
        "lm": lm,
        "callbacks": [*read("callbacks"), recorder],
        "cache_namespace": str(ctx.tenant_id),  # tenants never read each other's cached replies
        **engine_overrides(ctx.services),
    }
    ids = {"tenant_id": ctx.tenant_id, "program_id": program_id, "version_id": version_id}
    with settings.context(**overrides), trace_context(**ids, trace_id=call.trace_id), track_usage() as t:
        call.tracker = t
        try:
            yield call
        finally:
            call.latency = time.perf_counter() - call.started
