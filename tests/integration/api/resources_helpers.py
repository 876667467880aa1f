"""Rows the service only reads (traces, spans, the LM request log, cache entries), written as the trace
recorder and the LM cache write them, for the resources' tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from dspy_ash.actions import Services
from dspy_ash.store.models import LMCacheEntry, LMRequestLog, Trace, TraceSpan

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


async def seed_trace(
    services: Services,
    tenant_id: uuid.UUID,
    *,
    program_id: uuid.UUID | None = None,
    status: str = "ok",
    started_at: datetime = T0,
    model: str = "openai/gpt-4o-mini",
    latencies: tuple[float, ...] = (0.5,),
) -> uuid.UUID:
    """A trace: a root module span, a child module span, and one LM call per latency under the child
    (each with its `lm_request` row). Spans are inserted out of order, as a batch may hold them."""
    trace_id = uuid.uuid4()
    async with services.db.transaction() as s:
        s.add(Trace(id=trace_id, tenant_id=tenant_id, program_id=program_id, name="QA", call_id="root",
                    status=status, started_at=started_at, duration=1.0, inputs={"question": "2+2?"},
                    outputs={"answer": "4"}, span_count=2 + len(latencies), total_tokens=15 * len(latencies)))  # fmt: skip
        await s.flush()
        rows: list[Any] = []
        for i, latency in enumerate(latencies):
            at = started_at + timedelta(milliseconds=20 + i)
            call = f"lm{i}"
            rows.append(TraceSpan(tenant_id=tenant_id, trace_id=trace_id, call_id=call, parent_call_id="child",
                                  kind="lm", name=model, started_at=at, duration=latency,
                                  prompt=[{"role": "system", "content": "Be brief."},
                                          {"role": "user", "content": f"question {i}"}],
                                  reply=f"answer {i}", model=model, prompt_tokens=10, completion_tokens=5,
                                  latency=latency, cost=0.001))  # fmt: skip
            rows.append(LMRequestLog(tenant_id=tenant_id, provider=model.partition("/")[0], model=model,
                                     program_id=program_id, trace_id=trace_id, call_id=call, latency=latency,
                                     prompt_tokens=10, completion_tokens=5, total_tokens=15, cost=0.001,
                                     cache_hit=i % 2 == 1, created_at=at))  # fmt: skip
        rows.append(TraceSpan(tenant_id=tenant_id, trace_id=trace_id, call_id="child", parent_call_id="root",
                              kind="module", name="Predict", started_at=started_at + timedelta(milliseconds=10),
                              duration=0.8))  # fmt: skip
        rows.append(TraceSpan(tenant_id=tenant_id, trace_id=trace_id, call_id="root", parent_call_id=None,
                              kind="module", name="QA", started_at=started_at, duration=1.0))  # fmt: skip
        s.add_all(rows)
    return trace_id


async def seed_cache(
    services: Services, tenant_id: uuid.UUID, *, model: str = "gpt-4o-mini", expired: bool = False, n: int = 1
) -> None:
    now = datetime.now(UTC)
    async with services.db.transaction() as s:
        for _ in range(n):
            s.add(LMCacheEntry(tenant_id=tenant_id, key=uuid.uuid4().hex, value={"choices": [{"text": "hi"}], "model": model},
                               expires_at=now - timedelta(hours=1) if expired else now + timedelta(hours=1)))  # fmt: skip
