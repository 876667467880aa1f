"""The trace recorder: an event subscriber that stores one trace per top-level program execution and
one span per module, LM and tool call inside it, plus one `lm_request` row per LM call.

On the hot path (`on_event`, called inline by the engine) it only files the event under its trace:
a dict look-up and a list append. When a trace's root call ends, the whole trace is queued, and a
writer thread with its own event loop and engine turns queued traces into rows and inserts them in
batches. Turning values into JSON happens there too, off the caller's path. When the queue is full
(the database cannot keep up), whole traces are dropped and counted, never half-written and never
blocking the program.

The writer shares the process and its GIL: while the program waits on LMs its work is nearly free,
but in a CPU-bound process (an instant LM) it costs several times a call's own CPU. Figures in
benchmarks/RESULTS.md (## Store).

    recorder = TraceRecorder(tenant_id=tenant.id)          # DSPY_ASH_DATABASE_URL or SQLite default
    dspy_ash.configure(callbacks=[recorder])
    with trace_context(program_id=program.id, version_id=version.id):
        program(question="...")
    recorder.flush()
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from dspy_ash.events import Event
from dspy_ash.store._bulk import BulkInsert
from dspy_ash.store._db import Database
from dspy_ash.store._errors import StoreError
from dspy_ash.store._jsonable import encode, redact, to_jsonable
from dspy_ash.store.models import LMRequestLog, Trace, TraceSpan
from dspy_ash.store.repos import traces as traces_repo

logger = logging.getLogger("dspy_ash.store.recorder")


RETENTION_ACTOR = "trace_recorder:retention"  # who the audit trail says pruned the traces
RECORDED_KINDS = frozenset({"module", "lm", "tool"})
# Calls that group program executions without being one: a program run under Evaluate or an
# optimizer starts its own trace.
_CONTAINER_KINDS = frozenset({"evaluate", "compile"})


@dataclass(frozen=True, slots=True)
class TraceContext:
    tenant_id: uuid.UUID | None = None
    program_id: uuid.UUID | None = None
    version_id: uuid.UUID | None = None
    trace_id: uuid.UUID | None = None


_NO_CONTEXT = TraceContext()
_context: ContextVar[TraceContext] = ContextVar("dspy_ash_trace_context", default=_NO_CONTEXT)


@contextmanager
def trace_context(
    *,
    tenant_id: uuid.UUID | None = None,
    program_id: uuid.UUID | None = None,
    version_id: uuid.UUID | None = None,
    trace_id: uuid.UUID | None = None,
) -> Generator[None]:
    """Attribute the traces started inside to a tenant (else the recorder's), a program and a version.

    `trace_id` names the trace in advance, so a caller can return it before the trace is written (a
    served execution does); give it only around ONE top-level call, as ids must stay unique."""
    token = _context.set(TraceContext(tenant_id, program_id, version_id, trace_id))
    try:
        yield
    finally:
        _context.reset(token)


@dataclass(frozen=True, slots=True)
class Retention:
    """Keep traces younger than `max_age` and at most the newest `max_traces` (per tenant)."""

    max_age: timedelta | None = None
    max_traces: int | None = None
    every: float = 60.0  # seconds between pruning passes


@dataclass(slots=True)
class _OpenTrace:
    root_call_id: str
    context: TraceContext
    inputs: dict[str, Any] = field(default_factory=dict)  # call_id -> start inputs
    ended: list[Event] = field(default_factory=list)  # end events of recorded calls, in end order


@dataclass(slots=True)
class RecorderStats:
    traces_written: int = 0
    spans_written: int = 0
    traces_dropped: int = 0
    write_errors: int = 0
    pruned: int = 0


class TraceRecorder:
    def __init__(
        self,
        database_url: str | None = None,
        *,
        tenant_id: uuid.UUID,
        flush_interval: float = 0.25,
        max_batch: int = 500,
        max_pending: int = 10_000,
        retention: Retention | None = None,
        check_schema: bool = True,
        startup_timeout: float = 30.0,
    ) -> None:
        self.tenant_id = tenant_id
        self.database_url = database_url
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.max_pending = max_pending
        self.retention = retention
        self.stats = RecorderStats()
        self._check_schema = check_schema
        self._calls: dict[str, tuple[_OpenTrace | None, str]] = {}
        self._queue: deque[tuple[_OpenTrace, Event]] = deque()
        self._queued = 0  # traces ever queued; with _done, tells flush() when the writer caught up
        self._done = 0
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._closing = False
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        # time.monotonic() at which retention runs next: one period after start, then every period
        self._next_prune = time.monotonic() + (retention.every if retention else 0.0)
        self._prune_passes = 0
        self._inserts: dict[str, BulkInsert] = {}
        self._thread = threading.Thread(target=self._thread_main, name="dspy-ash-trace-writer", daemon=True)
        self._thread.start()
        if not self._ready.wait(startup_timeout):
            self._closing = True
            raise StoreError(f"the trace recorder could not reach its database in {startup_timeout:.0f}s")
        if self._startup_error is not None:
            raise self._startup_error

    # -- the hot path ------------------------------------------------------------------------------
    # Only these reach us: the engine builds no adapter events for a recorder that would ignore them.
    event_kinds = RECORDED_KINDS | _CONTAINER_KINDS

    def on_event(self, event: Event) -> None:
        if event.phase == "start":
            parent = self._calls.get(event.parent_id) if event.parent_id is not None else None
            trace = parent[0] if parent is not None else None
            if trace is None and event.kind in RECORDED_KINDS:
                # top level, or directly under Evaluate / an optimizer: a new trace. A parent we never saw
                # start (the recorder joined mid-call) leaves the call unrecorded.
                top_level = event.parent_id is None or (parent is not None and parent[1] in _CONTAINER_KINDS)
                if top_level:
                    trace = _OpenTrace(event.call_id, _context.get())
            if trace is not None and event.kind in RECORDED_KINDS:
                trace.inputs[event.call_id] = event.inputs
            self._calls[event.call_id] = (trace, event.kind)
            return
        trace, kind = self._calls.pop(event.call_id, (None, ""))
        if trace is None:
            return
        if kind in RECORDED_KINDS:
            trace.ended.append(event)
        if event.call_id == trace.root_call_id:
            self._enqueue(trace, event)

    __call__ = on_event

    def _enqueue(self, trace: _OpenTrace, root_end: Event) -> None:
        if len(self._queue) >= self.max_pending:
            self.stats.traces_dropped += 1
            return
        with self._cond:
            self._queued += 1
        self._queue.append((trace, root_end))
        if len(self._queue) >= self.max_batch:
            self._wake.set()

    # -- flushing and closing ----------------------------------------------------------------------
    def flush(self, timeout: float = 30.0) -> bool:
        """Block until every trace queued so far is written (or dropped after an error). False on timeout."""
        with self._cond:
            target = self._queued
            self._wake.set()
            return self._cond.wait_for(lambda: self._done >= target, timeout)

    async def aflush(self, timeout: float = 30.0) -> bool:
        return await asyncio.to_thread(self.flush, timeout)

    def close(self, timeout: float = 30.0) -> None:
        self.flush(timeout)
        self._closing = True
        self._wake.set()
        self._thread.join(timeout)

    async def aclose(self, timeout: float = 30.0) -> None:
        await asyncio.to_thread(self.close, timeout)

    def prune_now(self, timeout: float = 30.0) -> bool:
        """Apply the retention policy now and wait for it. False on timeout or without a policy."""
        if self.retention is None:
            return False
        with self._cond:
            target = self._prune_passes + 1
            self._next_prune = 0.0
            self._wake.set()
            return self._cond.wait_for(lambda: self._prune_passes >= target, timeout)

    async def aprune_now(self, timeout: float = 30.0) -> bool:
        return await asyncio.to_thread(self.prune_now, timeout)

    # -- the writer thread -------------------------------------------------------------------------
    def _thread_main(self) -> None:
        asyncio.run(self._writer())

    async def _writer(self) -> None:
        db = Database(self.database_url)
        self._inserts = {m.__tablename__: BulkInsert(m, db.dialect) for m in (Trace, TraceSpan, LMRequestLog)}
        try:
            if self._check_schema:
                await db.check_schema()
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
            await db.dispose()
            return
        self._ready.set()
        try:
            while True:
                self._wake.wait(self.flush_interval)
                self._wake.clear()
                while self._queue:
                    batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
                    await self._write(db, batch)
                await self._maybe_prune(db)
                if self._closing and not self._queue:
                    return
        finally:
            await db.dispose()

    async def _write(self, db: Database, batch: list[tuple[_OpenTrace, Event]]) -> None:
        trace_rows: list[dict[str, Any]] = []
        span_rows: list[dict[str, Any]] = []
        request_rows: list[dict[str, Any]] = []
        for trace, root_end in batch:
            # Hand the GIL back between traces: the program's event loop waits on it, and a long
            # conversion run otherwise holds it for whole switch intervals (5 ms) at a time.
            time.sleep(0)
            try:
                rows = _rows_for(trace, root_end, self.tenant_id)
            except Exception:  # one odd value must not lose the batch
                logger.exception("could not convert trace %s", trace.root_call_id)
                self.stats.write_errors += 1
                continue
            trace_rows.append(rows[0])
            span_rows.extend(rows[1])
            request_rows.extend(rows[2])
        try:
            # One driver-level executemany per table (see store.bulk): this runs beside the program it records.
            async with db.engine.begin() as conn:
                await self._inserts["trace"].run(conn, trace_rows)
                await self._inserts["trace_span"].run(conn, span_rows)
                await self._inserts["lm_request"].run(conn, request_rows)
            self.stats.traces_written += len(trace_rows)
            self.stats.spans_written += len(span_rows)
        except Exception:
            logger.exception("writing %d traces failed; they are dropped", len(trace_rows))
            self.stats.write_errors += 1
            self.stats.traces_dropped += len(trace_rows)
        finally:
            with self._cond:
                self._done += len(batch)
                self._cond.notify_all()

    async def _maybe_prune(self, db: Database) -> None:
        policy = self.retention
        if policy is None or time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + policy.every
        try:
            async with db.transaction() as session:
                self.stats.pruned += await traces_repo.prune_traces(
                    session,
                    tenant_id=self.tenant_id,
                    actor=RETENTION_ACTOR,
                    max_age=policy.max_age,
                    max_traces=policy.max_traces,
                )
        except Exception:
            logger.exception("pruning traces failed")
        with self._cond:
            self._prune_passes += 1
            self._cond.notify_all()


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _error_text(error: BaseException | None) -> str | None:
    return None if error is None else f"{type(error).__name__}: {error}"


def _reply_text(output: Any) -> str | None:
    if isinstance(output, str):
        return output
    if isinstance(output, dict):
        text = output.get("text")
        return text if isinstance(text, str) else None
    return None


def _rows_for(
    trace: _OpenTrace, root_end: Event, default_tenant: uuid.UUID
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    tenant_id = trace.context.tenant_id or default_tenant
    # random, not the call id: two recorders on one database must not collide
    trace_id = trace.context.trace_id or uuid.uuid4()
    now = datetime.now(UTC)
    spans: list[dict[str, Any]] = []
    requests: list[dict[str, Any]] = []
    for event in trace.ended:
        inputs = trace.inputs.get(event.call_id)
        row = _span_row(event, tenant_id, trace_id, now)
        if event.kind == "lm":
            _fill_lm_span(row, event, inputs)
            requests.append(_request_row(row, event, trace, trace_id, now))
        else:
            row["inputs"] = encode(redact(inputs))
        spans.append(row)
    trace_row = _trace_row(trace, root_end, tenant_id, trace_id, now, spans, requests)
    return trace_row, spans, requests


def _span_row(event: Event, tenant_id: uuid.UUID, trace_id: uuid.UUID, now: datetime) -> dict[str, Any]:
    """The columns every span has; an LM span fills the LM ones (`_fill_lm_span`), others leave them empty."""
    return {
        "id": uuid.uuid4(),
        "tenant_id": tenant_id,
        "trace_id": trace_id,
        "call_id": event.call_id,
        "parent_call_id": event.parent_id,
        "kind": event.kind,
        "name": event.name[:500],
        "started_at": _when(event.started_at),
        "duration": event.duration or 0.0,
        "outputs": encode(event.outputs),
        "error": _error_text(event.error),
        "created_at": now,
        "updated_at": now,
        "prompt": None,
        "reply": None,
        "model": None,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "latency": None,
        "cost": None,
        "cache_hit": False,
    }


def _fill_lm_span(row: dict[str, Any], event: Event, inputs: dict[str, Any] | None) -> None:
    usage = event.usage or {}
    extra = event.extra
    messages = extra.get("messages") or (inputs or {}).get("messages")
    outputs = event.outputs if isinstance(event.outputs, list) else []
    first = outputs[0] if outputs else None
    row.update(
        # request kwargs can hold an api_key: redact before anything is stored
        inputs=encode(redact(to_jsonable({k: v for k, v in (inputs or {}).items() if k != "messages"}))),
        prompt=encode(redact(messages)),
        reply=_reply_text(first),
        model=str(extra.get("model") or event.name)[:200],
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        latency=extra.get("latency") if extra.get("latency") is not None else event.duration,
        cost=extra.get("cost"),
        cache_hit=bool(extra.get("cache_hit", False)),
    )


def _request_row(
    span: dict[str, Any], event: Event, trace: _OpenTrace, trace_id: uuid.UUID, now: datetime
) -> dict[str, Any]:
    """The `lm_request` row of an LM span already filled by `_fill_lm_span`."""
    usage = event.usage or {}
    provider, _, _ = event.name.partition("/")
    return {
        "id": uuid.uuid4(),
        "tenant_id": span["tenant_id"],
        "provider": provider if "/" in event.name else "unknown",
        "model": event.name[:200],
        "program_id": trace.context.program_id,
        "trace_id": trace_id,
        "call_id": event.call_id,
        "latency": span["latency"] or 0.0,
        "prompt_tokens": span["prompt_tokens"],
        "completion_tokens": span["completion_tokens"],
        "total_tokens": int(usage.get("total_tokens") or span["prompt_tokens"] + span["completion_tokens"]),
        "cost": span["cost"],
        "cache_hit": span["cache_hit"],
        "error": span["error"],
        "created_at": _when(event.started_at),
        "updated_at": now,
    }


def _trace_row(
    trace: _OpenTrace,
    root_end: Event,
    tenant_id: uuid.UUID,
    trace_id: uuid.UUID,
    now: datetime,
    spans: list[dict[str, Any]],
    requests: list[dict[str, Any]],
) -> dict[str, Any]:
    costs = [float(span["cost"]) for span in spans if span["cost"] is not None]  # only LM spans have one
    return {
        "id": trace_id,
        "tenant_id": tenant_id,
        "program_id": trace.context.program_id,
        "version_id": trace.context.version_id,
        "name": root_end.name[:500],
        "call_id": trace.root_call_id,
        "status": "error" if root_end.error is not None else "ok",
        "started_at": _when(root_end.started_at),
        "duration": root_end.duration or 0.0,
        "inputs": encode(redact(trace.inputs.get(trace.root_call_id))),
        "outputs": encode(root_end.outputs),
        "error": _error_text(root_end.error),
        "span_count": len(spans),
        "total_tokens": sum(request["total_tokens"] for request in requests),
        "cost": sum(costs) if costs else None,
        "created_at": now,
        "updated_at": now,
    }
