"""The trace recorder: an event subscriber that stores one trace per top-level program execution and
one span per module, LM and tool call inside it, plus one `lm_request` row per LM call.

On the hot path (`on_event`, called inline by the engine) it files each event under its trace: a
dict look-up and a list append. When a trace's root call ends, its rows are made there and then
(plain tuples of text and numbers, JSON already encoded) and queued; a writer thread with its own
event loop and engine inserts queued rows in batches, one statement per table (store._bulk.StoredRows).
Making the rows at the end of the execution rather than in the writer costs the caller about as much
CPU as it saves the writer, which shares the GIL anyway; what it saves is the garbage collector's
work: queued engine objects (events, Predictions, messages) outlived the young generations and
brought on full collections, a third of the recorder's cost. When the queue is full (the database
cannot keep up), whole traces are dropped and counted, never half-written and never blocking the program.

CPU per traced execution in the serving process: benchmarks/recorder.py, figures in
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
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from dspy_ash.events import Event
from dspy_ash.store._bulk import StoredRows, time_text
from dspy_ash.store._db import Database
from dspy_ash.store._errors import StoreError
from dspy_ash.store._jsonable import redacted_text, text, to_jsonable
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


class _OpenTrace:
    __slots__ = ("context", "ended", "inputs", "root_call_id")

    def __init__(self, root_call_id: str, context: TraceContext) -> None:
        self.root_call_id = root_call_id
        self.context = context
        self.inputs: dict[str, Any] = {}  # call_id -> start inputs
        self.ended: list[Event] = []  # end events of recorded calls, in end order


# What `_calls` holds for an Evaluate or optimizer call: its children start traces of their own.
_CONTAINER = _OpenTrace("", _NO_CONTEXT)


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
        max_batch: int = 2000,
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
        # call id -> its open trace (or _CONTAINER), for the calls that started in a trace or group traces
        self._calls: dict[str, _OpenTrace] = {}
        self._queue: deque[_TraceRows] = deque()
        self._queued = 0  # traces ever queued; with _done, tells flush() when the writer caught up
        self._queued_lock = threading.Lock()  # callers on several threads must not lose a count
        self._done = 0
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._closing = False
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        # time.monotonic() at which retention runs next: one period after start, then every period
        self._next_prune = time.monotonic() + (retention.every if retention else 0.0)
        self._prune_passes = 0
        self._inserts: tuple[StoredRows, StoredRows, StoredRows] | None = None
        self._rows: _RowMaker | None = None  # set by the writer once it knows the dialect
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
        calls = self._calls
        if event.phase == "start":
            kind = event.kind
            if kind in _CONTAINER_KINDS:
                parent = calls.get(event.parent_id) if event.parent_id is not None else None
                # inside a trace it is a call like any other; else its children start traces
                calls[event.call_id] = _CONTAINER if parent is None or parent is _CONTAINER else parent
                return
            if kind not in RECORDED_KINDS:  # not sent (event_kinds), but a direct caller may: pass it through
                trace = calls.get(event.parent_id) if event.parent_id is not None else None
                if trace is not None and trace is not _CONTAINER:
                    calls[event.call_id] = trace
                return
            if event.parent_id is None:
                trace = _OpenTrace(event.call_id, _context.get())  # a top-level call: a new trace
            else:
                trace = calls.get(event.parent_id)
                if trace is None:  # a parent we never saw start (the recorder joined mid-call): unrecorded
                    return
                if trace is _CONTAINER:  # directly under Evaluate / an optimizer: a trace of its own
                    trace = _OpenTrace(event.call_id, _context.get())
            trace.inputs[event.call_id] = event.inputs
            calls[event.call_id] = trace
            return
        trace = calls.pop(event.call_id, None)
        if trace is None or trace is _CONTAINER:
            return
        if event.kind in RECORDED_KINDS:
            trace.ended.append(event)
            if event.call_id == trace.root_call_id:
                self._enqueue(trace, event)

    __call__ = on_event

    def _enqueue(self, trace: _OpenTrace, root_end: Event) -> None:
        if len(self._queue) >= self.max_pending:
            self.stats.traces_dropped += 1
            return
        assert self._rows is not None
        try:
            # The rows are made here, as the execution ends, not in the writer: the trace's objects then die
            # with the execution instead of waiting in the queue, where they outlived the young garbage
            # collector generations and brought on full collections (a third of the cost); and the writer,
            # which shares the GIL, has little left to do. A trace's rows are plain tuples of text and numbers.
            rows = self._rows.make(trace, root_end)
        except Exception:  # one odd value must not break the program or the other traces
            logger.exception("could not convert trace %s", trace.root_call_id)
            self.stats.write_errors += 1
            return
        with self._queued_lock:
            self._queued += 1
        self._queue.append(rows)
        if len(self._queue) >= self.max_batch:
            self._wake.set()

    # -- flushing and closing ----------------------------------------------------------------------
    def flush(self, timeout: float = 30.0) -> bool:
        """Block until every trace queued so far is written (or dropped after an error). False on timeout."""
        with self._queued_lock:
            target = self._queued
        with self._cond:
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
        self._rows = _RowMaker(self.tenant_id, db.dialect)
        self._inserts = (
            StoredRows(Trace, db.dialect, TRACE_COLUMNS),
            StoredRows(TraceSpan, db.dialect, SPAN_COLUMNS),
            StoredRows(LMRequestLog, db.dialect, REQUEST_COLUMNS),
        )
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

    async def _write(self, db: Database, batch: list[_TraceRows]) -> None:
        traces: list[Row] = []
        spans: list[Row] = []
        requests: list[Row] = []
        for trace, trace_spans, trace_requests in batch:
            traces.append(trace)
            spans += trace_spans
            requests += trace_requests
        try:
            # One statement per table (see store._bulk.StoredRows): this runs beside the program it records.
            assert self._inserts is not None
            trace_insert, span_insert, request_insert = self._inserts
            async with db.engine.begin() as conn:
                await trace_insert.run(conn, traces)
                await span_insert.run(conn, spans)
                await request_insert.run(conn, requests)
            self.stats.traces_written += len(traces)
            self.stats.spans_written += len(spans)
        except Exception:
            logger.exception("writing %d traces failed; they are dropped", len(traces))
            self.stats.write_errors += 1
            self.stats.traces_dropped += len(traces)
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


# The rows' column order: the tuples built below follow it, and StoredRows checks it names every column
# once.
TRACE_COLUMNS = (
    "id", "tenant_id", "program_id", "version_id", "name", "call_id", "status", "started_at", "duration",
    "error", "span_count", "total_tokens", "cost", "created_at", "updated_at", "inputs", "outputs",
)  # fmt: skip
SPAN_COLUMNS = (
    "id", "tenant_id", "trace_id", "call_id", "parent_call_id", "kind", "name", "started_at", "duration",
    "reply", "model", "prompt_tokens", "completion_tokens", "latency", "cost", "cache_hit", "error",
    "created_at", "updated_at", "inputs", "outputs", "prompt",
)  # fmt: skip
REQUEST_COLUMNS = (
    "id", "tenant_id", "provider", "model", "program_id", "trace_id", "call_id", "latency", "prompt_tokens",
    "completion_tokens", "total_tokens", "cost", "cache_hit", "error", "created_at", "updated_at",
)  # fmt: skip
_HEX = "0123456789abcdef"
_VARIANT = {d: "89ab"[int(d, 16) & 3] for d in _HEX}


def random_ids(n: int) -> list[str]:
    """`n` version-4 UUIDs as 32 hex digits, as `uuid.uuid4().hex` makes them (16 bytes of os.urandom
    each, version and variant bits set) from one os.urandom call."""
    digits = os.urandom(16 * n).hex()
    return [
        f"{digits[i : i + 12]}4{digits[i + 13 : i + 16]}{_VARIANT[digits[i + 16]]}{digits[i + 17 : i + 32]}"
        for i in range(0, 32 * n, 32)
    ]


def _error_text(error: BaseException | None) -> str | None:
    return None if error is None else f"{type(error).__name__}: {error}"


def _reply_text(output: Any) -> str | None:
    if isinstance(output, str):
        return output
    if isinstance(output, dict):
        reply = output.get("text")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
        return reply if isinstance(reply, str) else None
    return None


Row = tuple[Any, ...]


_TraceRows = tuple[Row, list[Row], list[Row]]  # a trace's row, its spans' and its LM requests'
_ID_REFILL = 512
_Where = tuple[str, str | None, str, str]  # a trace's tenant, program, id and the time its rows are made


class _RowMaker:
    """The rows of a trace, in the form the dialect stores (see store._bulk.StoredRows). Callers on any
    thread share one: its caches are dicts and a list, whose single operations the GIL keeps whole."""

    def __init__(self, default_tenant: uuid.UUID, dialect: str) -> None:
        self.default_tenant = default_tenant.hex
        self.when = time_text(dialect)
        self._ids: list[str] = []

    def _id(self) -> str:
        ids = self._ids
        if not ids:  # one os.urandom call per few hundred ids, not one per row
            ids += random_ids(_ID_REFILL)
        try:
            return ids.pop()
        except IndexError:  # another thread took the last ones in between
            return random_ids(1)[0]

    def make(self, trace: _OpenTrace, root_end: Event) -> _TraceRows:
        """The rows of one trace, all or (raising) none: a trace is never half-written."""
        now = self.when(time.time())
        context = trace.context
        tenant = self.default_tenant if context.tenant_id is None else context.tenant_id.hex
        program = None if context.program_id is None else context.program_id.hex
        # named in advance by the caller (trace_context(trace_id=...)), else random, not the call id: two
        # recorders on one database must not collide
        trace_id = self._id() if context.trace_id is None else context.trace_id.hex
        spans: list[Row] = []
        requests: list[Row] = []
        root = trace.root_call_id
        root_inputs: str | None = None
        root_outputs = root_started = ""
        for event in trace.ended:
            started = self.when(event.started_at)
            outputs = text(event.outputs)
            inputs = trace.inputs.get(event.call_id)
            if event.kind == "lm":
                span, request = self._lm_rows(
                    event, inputs, (tenant, program, trace_id, now), started, outputs
                )
                spans.append(span)
                requests.append(request)
            else:
                encoded = redacted_text(inputs)
                if event.call_id == root:
                    root_inputs = encoded
                spans.append(
                    self._span_row(event, (tenant, program, trace_id, now), started, encoded, outputs)
                )
            if event.call_id == root:  # the root's end event is `root_end`: its span's values are the trace's
                root_outputs, root_started = outputs, started
        if root_inputs is None:  # an LM called at the top level: its span keeps the messages apart
            root_inputs = redacted_text(trace.inputs.get(root))
        costs = [float(r[11]) for r in requests if r[11] is not None]  # only LM spans have one
        return (
            (
                trace_id, tenant, program, None if context.version_id is None else context.version_id.hex,
                root_end.name[:500], root, "error" if root_end.error is not None else "ok", root_started,
                root_end.duration or 0.0, _error_text(root_end.error), len(spans), sum(r[10] for r in requests),
                sum(costs) if costs else None, now, now, root_inputs, root_outputs,
            ),
            spans,
            requests,
        )  # fmt: skip

    def _span_row(self, event: Event, where: _Where, started: str, inputs: str, outputs: str) -> Row:
        """A module or tool span: the LM columns stay empty."""
        tenant, _, trace_id, now = where
        return (
            self._id(), tenant, trace_id, event.call_id, event.parent_id, event.kind, event.name[:500],
            started, event.duration or 0.0, None, None, 0, 0, None, None, False, _error_text(event.error), now,
            now, inputs, outputs, None,
        )  # fmt: skip

    def _lm_rows(
        self,
        event: Event,
        inputs: dict[str, Any] | None,
        where: _Where,
        started: str,
        outputs: str,
    ) -> tuple[Row, Row]:
        """An LM span and its `lm_request` row."""
        tenant, program, trace_id, now = where
        usage = event.usage or {}
        extra = event.extra
        messages = extra.get("messages") or (inputs or {}).get("messages")
        replies: list[Any] = event.outputs if isinstance(event.outputs, list) else []  # pyright: ignore[reportUnknownMemberType]
        prompt_tokens = int(usage.get("prompt_tokens") or 0)
        completion_tokens = int(usage.get("completion_tokens") or 0)
        latency = extra.get("latency")
        if latency is None:
            latency = event.duration
        cost = extra.get("cost")
        cache_hit = bool(extra.get("cache_hit", False))
        error = _error_text(event.error)
        span = (
            self._id(), tenant, trace_id, event.call_id, event.parent_id, event.kind, event.name[:500],
            started, event.duration or 0.0, _reply_text(replies[0] if replies else None),
            str(extra.get("model") or event.name)[:200], prompt_tokens, completion_tokens, latency, cost,
            cache_hit, error, now, now,
            # request kwargs can hold an api_key: redact before anything is stored
            redacted_text(to_jsonable({k: v for k, v in (inputs or {}).items() if k != "messages"})),
            outputs, redacted_text(messages),
        )  # fmt: skip
        provider, slash, _ = event.name.partition("/")
        request = (
            self._id(), tenant, provider if slash else "unknown", event.name[:200], program, trace_id,
            event.call_id, latency or 0.0, prompt_tokens, completion_tokens,
            int(usage.get("total_tokens") or prompt_tokens + completion_tokens), cost, cache_hit, error,
            started, now,
        )  # fmt: skip
        return span, request
