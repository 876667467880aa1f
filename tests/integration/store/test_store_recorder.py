"""The trace recorder end to end: a real two-step program on a fake LM, recorded into the database."""

from __future__ import annotations

import math
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from store_helpers import FakeLM

import dspy_ash
from dspy_ash import events
from dspy_ash.store import Database, Retention, SchemaOutOfDateError, TraceRecorder, repos, trace_context
from dspy_ash.store.models import LMRequestLog, Trace, TraceSpan

SECRET = "sk-do-not-store-" + "x" * 20


class TwoStep(dspy_ash.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rewrite = dspy_ash.Predict("question -> query")
        self.qa = dspy_ash.ChainOfThought("question, query -> answer")

    async def aforward(self, question: str) -> Any:
        query = await self.rewrite.acall(question=question)
        return await self.qa.acall(question=question, query=query.query)


@pytest.fixture
def recorder(database_url: str, tenant: uuid.UUID) -> Any:
    rec = TraceRecorder(database_url, tenant_id=tenant, flush_interval=0.05)
    yield rec
    rec.close()


async def _count(db: Database, model: Any, tenant: uuid.UUID) -> int:
    async with db.transaction() as s:
        return (
            await s.execute(select(func.count()).select_from(model).where(model.tenant_id == tenant))
        ).scalar_one()


async def test_one_trace_per_execution_one_span_per_module_and_lm_call(
    db: Database, tenant: uuid.UUID, recorder: TraceRecorder
) -> None:
    program = TwoStep()
    program_id = uuid.uuid4()
    with (
        dspy_ash.context(lm=FakeLM(api_key=SECRET), callbacks=[recorder]),
        trace_context(program_id=program_id),
    ):
        for i in range(3):
            result = await program.acall(question=f"Capital of France? ({i})")
            assert result.answer == "Paris"
    assert await recorder.aflush()

    async with db.transaction() as s:
        traces = await repos.traces.list_traces(s, tenant_id=tenant, program_id=program_id)
        assert len(traces) == 3
        full = await repos.traces.get_trace(s, tenant_id=tenant, trace_id=traces[0].id)
    trace = full.trace
    assert (trace.name, trace.status, trace.span_count, trace.total_tokens) == ("TwoStep", "ok", 6, 40)
    assert trace.cost == pytest.approx(0.001)
    assert trace.inputs == {"question": "Capital of France? (2)"}
    assert trace.outputs["answer"] == "Paris"
    kinds = [(sp.kind, sp.name) for sp in full.spans]
    assert sorted(kinds) == sorted(
        [
            ("module", "TwoStep"),
            ("module", "Predict"),
            ("lm", "openai/fake-model"),
            ("module", "ChainOfThought"),
            ("module", "Predict"),
            ("lm", "openai/fake-model"),
        ]
    )
    by_call = {sp.call_id: sp for sp in full.spans}
    root = next(sp for sp in full.spans if sp.parent_call_id is None)
    assert root.call_id == trace.call_id
    for sp in full.spans:  # every span hangs off a recorded span (adapter calls in between are skipped)
        if sp is not root:
            assert sp.parent_call_id is not None
    lm_span = next(sp for sp in full.spans if sp.kind == "lm")
    assert lm_span.prompt[0]["role"] == "system" and "question" in lm_span.prompt[-1]["content"].lower()
    assert lm_span.reply is not None and "[[ ## answer ## ]]" in lm_span.reply
    assert (lm_span.prompt_tokens, lm_span.completion_tokens, lm_span.latency, lm_span.cache_hit) == (
        12,
        8,
        0.004,
        False,
    )
    assert lm_span.inputs["kwargs"]["api_key"] == "[redacted]"
    assert by_call  # spans are addressable by call id

    assert await _count(db, LMRequestLog, tenant) == 6
    async with db.transaction() as s:
        stats = await repos.lm_requests.usage_stats(
            s, tenant_id=tenant, group_by=("provider", "model", "program")
        )
    assert len(stats) == 1
    (row,) = stats
    assert row.key == ("openai", "openai/fake-model", str(program_id))
    assert (row.calls, row.errors, row.total_tokens, row.error_rate) == (6, 0, 120, 0.0)
    assert row.cost == pytest.approx(0.003) and row.latency_p50 == pytest.approx(0.004)


async def test_secrets_never_reach_the_trace_tables(
    db: Database, tenant: uuid.UUID, recorder: TraceRecorder
) -> None:
    with dspy_ash.context(lm=FakeLM(api_key=SECRET), callbacks=[recorder]):
        await TwoStep().acall(question="q")
    await recorder.aflush()
    async with db.transaction() as s:
        for table in ("trace", "trace_span", "lm_request"):
            rows = (
                await s.execute(
                    text(f"SELECT * FROM {table} WHERE tenant_id = :t"),
                    {"t": tenant if db.dialect == "postgresql" else tenant.hex},
                )
            ).all()
            assert rows, table
            assert all(SECRET not in str(r) for r in rows), table


async def test_a_trace_named_in_advance_is_written_under_that_id(
    db: Database, tenant: uuid.UUID, recorder: TraceRecorder
) -> None:
    """A server returns the trace id of an execution before the trace is written."""
    named = uuid.uuid4()
    with dspy_ash.context(lm=FakeLM(), callbacks=[recorder]), trace_context(trace_id=named):
        await TwoStep().acall(question="q")
    with dspy_ash.context(lm=FakeLM(), callbacks=[recorder]):
        await TwoStep().acall(question="unnamed")
    assert await recorder.aflush()
    async with db.transaction() as s:
        full = await repos.traces.get_trace(s, tenant_id=tenant, trace_id=named)
        traces = await repos.traces.list_traces(s, tenant_id=tenant)
        logged = (await s.execute(select(LMRequestLog.trace_id))).scalars().all()
    assert full.trace.inputs == {"question": "q"} and full.spans
    assert len(traces) == 2 and named in logged


async def test_a_failing_execution_is_recorded_as_an_error(
    db: Database, tenant: uuid.UUID, recorder: TraceRecorder
) -> None:
    with dspy_ash.context(lm=FakeLM(fail=True), callbacks=[recorder]), pytest.raises(RuntimeError):
        await TwoStep().acall(question="q")
    await recorder.aflush()
    async with db.transaction() as s:
        (trace,) = await repos.traces.list_traces(s, tenant_id=tenant)
        full = await repos.traces.get_trace(s, tenant_id=tenant, trace_id=trace.id)
        stats = await repos.lm_requests.usage_stats(s, tenant_id=tenant)
    assert trace.status == "error" and trace.error is not None and "fake provider is down" in trace.error
    # the LM failed inside the first Predict: three spans, each carrying the error up the stack
    assert sorted((sp.kind, sp.name) for sp in full.spans) == [
        ("lm", "openai/fake-model"),
        ("module", "Predict"),
        ("module", "TwoStep"),
    ]
    assert all(sp.error is not None and "RuntimeError" in sp.error for sp in full.spans)
    assert stats[0].errors == 1 and stats[0].error_rate == 1.0


async def test_executions_under_evaluate_are_traces_of_their_own(
    db: Database, tenant: uuid.UUID, recorder: TraceRecorder
) -> None:
    program = TwoStep()
    with dspy_ash.context(lm=FakeLM(), callbacks=[recorder]), events.observe("evaluate", "Evaluate", None):
        await program.acall(question="a")
        await program.acall(question="b")
    await recorder.aflush()
    async with db.transaction() as s:
        traces = await repos.traces.list_traces(s, tenant_id=tenant)
    assert sorted(t.inputs["question"] for t in traces) == ["a", "b"]
    assert all(t.span_count == 6 for t in traces)


async def test_retention_by_count_and_age(db: Database, database_url: str, tenant: uuid.UUID) -> None:
    rec = TraceRecorder(
        database_url, tenant_id=tenant, flush_interval=0.05, retention=Retention(max_traces=2, every=3600)
    )
    try:
        with dspy_ash.context(lm=FakeLM(), callbacks=[rec]):
            for i in range(5):
                await TwoStep().acall(question=str(i))
        await rec.aflush()
        assert await _count(db, Trace, tenant) == 5
        assert await rec.aprune_now()
        assert await _count(db, Trace, tenant) == 2
        async with db.transaction() as s:
            kept = sorted(t.inputs["question"] for t in await repos.traces.list_traces(s, tenant_id=tenant))
            # spans went with their traces
            spans = (
                await s.execute(
                    text("SELECT count(*) FROM trace_span WHERE tenant_id = :t"),
                    {"t": tenant if db.dialect == "postgresql" else tenant.hex},
                )
            ).scalar_one()
        assert kept == ["3", "4"] and spans == 12
        async with db.transaction() as s:
            assert (
                await repos.traces.prune_traces(s, tenant_id=tenant, actor="t", max_age=timedelta(days=1))
                == 0
            )
            assert (
                await repos.traces.prune_traces(s, tenant_id=tenant, actor="t", max_age=timedelta(seconds=-1))
                == 2
            )
    finally:
        rec.close()


async def test_a_full_queue_drops_whole_traces_without_failing_the_program(
    db: Database, database_url: str, tenant: uuid.UUID
) -> None:
    rec = TraceRecorder(database_url, tenant_id=tenant, max_pending=0)
    try:
        with dspy_ash.context(lm=FakeLM(), callbacks=[rec]):
            assert (await TwoStep().acall(question="q")).answer == "Paris"
        await rec.aflush()
        assert rec.stats.traces_dropped == 1 and rec.stats.traces_written == 0
        assert await _count(db, Trace, tenant) == 0
    finally:
        rec.close()


async def test_recorder_refuses_an_unmigrated_database(empty_database_url: str) -> None:
    with pytest.raises(SchemaOutOfDateError):
        TraceRecorder(empty_database_url, tenant_id=uuid.uuid4())


def test_sync_calls_are_recorded_too(database_url: str, tenant: uuid.UUID, recorder: TraceRecorder) -> None:
    with dspy_ash.context(lm=FakeLM(), callbacks=[recorder]):
        TwoStep()(question="sync")
    assert recorder.flush()
    assert recorder.stats.traces_written == 1 and recorder.stats.spans_written == 6


async def test_values_json_cannot_hold_are_recorded_not_dropped(
    db: Database, tenant: uuid.UUID, recorder: TraceRecorder
) -> None:
    """NaN is not JSON and PostgreSQL refuses it: it is stored as null instead of losing the batch."""
    with dspy_ash.context(callbacks=[recorder]), events.observe("module", "Scorer", None, {"x": 1}) as scope:
        assert scope is not None
        scope.end({"score": float("nan"), "ok": 1.0})
    assert await recorder.aflush()
    async with db.transaction() as s:
        (trace,) = await repos.traces.list_traces(s, tenant_id=tenant)
    assert trace.outputs == {"score": None, "ok": 1.0} and trace.inputs == {"x": 1}
    assert recorder.stats.write_errors == 0


class _Capture:
    """Keeps the events the recorder saw, to say what each stored column must hold."""

    event_kinds = TraceRecorder.event_kinds

    def __init__(self) -> None:
        self.ended: dict[str, events.Event] = {}
        self.inputs: dict[str, Any] = {}

    def on_event(self, event: events.Event) -> None:
        if event.phase == "start":
            self.inputs[event.call_id] = event.inputs
        else:
            self.ended[event.call_id] = event


def _at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


async def test_every_column_holds_what_the_events_said(
    db: Database, tenant: uuid.UUID, recorder: TraceRecorder
) -> None:
    seen = _Capture()
    program_id, version_id = uuid.uuid4(), uuid.uuid4()
    before = datetime.now(UTC)
    with (
        dspy_ash.context(lm=FakeLM(api_key=SECRET), callbacks=[seen, recorder]),
        trace_context(program_id=program_id, version_id=version_id),
    ):
        await TwoStep().acall(question="Capital?")
    assert await recorder.aflush()
    after = datetime.now(UTC)
    async with db.transaction() as s:
        (trace,) = await repos.traces.list_traces(s, tenant_id=tenant, program_id=program_id)
        spans = (await repos.traces.get_trace(s, tenant_id=tenant, trace_id=trace.id)).spans
        requests = (
            (await s.execute(select(LMRequestLog).where(LMRequestLog.trace_id == trace.id))).scalars().all()
        )
    root = seen.ended[trace.call_id]
    assert (trace.tenant_id, trace.program_id, trace.version_id, trace.id.version) == (
        tenant,
        program_id,
        version_id,
        4,
    )
    assert (trace.name, trace.status, trace.error, trace.span_count) == ("TwoStep", "ok", None, 6)
    assert (trace.started_at, trace.duration) == (_at(root.started_at), root.duration)
    assert trace.inputs == {"question": "Capital?"} and trace.outputs == root.outputs.toDict()
    assert before <= trace.created_at == trace.updated_at <= after
    for span in spans:
        event = seen.ended[span.call_id]
        assert (span.trace_id, span.tenant_id, span.id.version) == (trace.id, tenant, 4)
        assert (span.parent_call_id, span.kind, span.name) == (event.parent_id, event.kind, event.name)
        assert (span.started_at, span.duration, span.error) == (_at(event.started_at), event.duration, None)
        assert span.created_at == trace.created_at
        if event.kind == "lm":
            assert span.prompt == event.extra["messages"] and span.reply == event.outputs[0]
            assert span.inputs == {"kwargs": {**seen.inputs[span.call_id]["kwargs"], "api_key": "[redacted]"}}
            assert span.outputs == event.outputs
            assert (span.model, span.prompt_tokens, span.completion_tokens) == ("openai/fake-model", 12, 8)
            assert (span.latency, span.cost, span.cache_hit) == (0.004, 0.0005, False)
        else:
            assert span.inputs == seen.inputs[span.call_id] and span.outputs == event.outputs.toDict()
            assert (span.prompt, span.reply, span.model, span.prompt_tokens, span.completion_tokens) == (
                None,
                None,
                None,
                0,
                0,
            )
            assert (span.latency, span.cost, span.cache_hit) == (None, None, False)
    assert len(requests) == 2
    for request in requests:
        span = next(sp for sp in spans if sp.call_id == request.call_id)
        assert (request.provider, request.model, request.program_id) == (
            "openai",
            "openai/fake-model",
            program_id,
        )
        assert (request.prompt_tokens, request.completion_tokens, request.total_tokens) == (12, 8, 20)
        assert (request.latency, request.cost, request.cache_hit, request.error) == (
            0.004,
            0.0005,
            False,
            None,
        )
        assert request.created_at == span.started_at and request.updated_at == trace.created_at
        assert request.id.version == 4 and request.tenant_id == tenant


async def test_batches_bigger_than_max_batch_are_written_whole(
    db: Database, database_url: str, tenant: uuid.UUID
) -> None:
    rec = TraceRecorder(database_url, tenant_id=tenant, flush_interval=0.05, max_batch=4)
    try:
        with dspy_ash.context(lm=FakeLM(), callbacks=[rec]):
            for i in range(11):  # 4 + 4 + 3, and a flush that must wait for the last partial batch
                await TwoStep().acall(question=str(i))
        assert await rec.aflush()
        assert (rec.stats.traces_written, rec.stats.spans_written, rec.stats.traces_dropped) == (11, 66, 0)
        assert await _count(db, Trace, tenant) == 11 and await _count(db, LMRequestLog, tenant) == 22
    finally:
        rec.close()


async def test_a_float_json_cannot_hold_is_stored_as_the_driver_stores_it(
    db: Database, tenant: uuid.UUID, recorder: TraceRecorder
) -> None:
    """PostgreSQL's one-document batch cannot carry NaN: that batch goes row by row, as before."""
    with dspy_ash.context(callbacks=[recorder]), events.observe("module", "Scorer", None, {"x": 1}) as scope:
        assert scope is not None
        lm = events.start("lm", "openai/nan", None, {"messages": [{"role": "user", "content": "hi"}]})
        assert lm is not None
        lm.end(["hello"], {"prompt_tokens": 1}, cost=float("nan"), latency=0.5)
    assert await recorder.aflush()
    assert recorder.stats.write_errors == 0 and recorder.stats.traces_written == 1
    async with db.transaction() as s:
        (trace,) = await repos.traces.list_traces(s, tenant_id=tenant)
        spans = (await repos.traces.get_trace(s, tenant_id=tenant, trace_id=trace.id)).spans
    lm_span = next(sp for sp in spans if sp.kind == "lm")
    assert lm_span.reply == "hello" and lm_span.latency == 0.5
    if db.dialect == "postgresql":
        assert lm_span.cost is not None and trace.cost is not None
        assert math.isnan(lm_span.cost) and math.isnan(trace.cost)
    else:  # SQLite keeps no NaN: it stores NULL
        assert lm_span.cost is None and trace.cost is None


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for this error")


async def test_a_trace_that_cannot_be_converted_is_dropped_whole_and_the_others_kept(
    db: Database, tenant: uuid.UUID, recorder: TraceRecorder
) -> None:
    with dspy_ash.context(callbacks=[recorder]):
        with events.observe("module", "Good", None, {"n": 1}) as good:
            assert good is not None
        bad = events.start("module", "Bad", None, {"n": 2})
        assert bad is not None
        inner = events.start("module", "Inner", None, {"n": 3})
        assert inner is not None
        inner.end({"fine": True})
        bad.fail(_Unprintable())
        with events.observe("module", "AlsoGood", None, {"n": 4}):
            pass
    assert await recorder.aflush()
    assert (recorder.stats.write_errors, recorder.stats.traces_written) == (1, 2)
    async with db.transaction() as s:
        names = sorted(t.name for t in await repos.traces.list_traces(s, tenant_id=tenant))
        span_names = (
            (await s.execute(select(TraceSpan.name).where(TraceSpan.tenant_id == tenant))).scalars().all()
        )
    assert names == ["AlsoGood", "Good"] and sorted(span_names) == ["AlsoGood", "Good"]  # no "Inner"


def test_callers_on_many_threads_are_all_recorded(database_url: str, tenant: uuid.UUID) -> None:
    rec = TraceRecorder(database_url, tenant_id=tenant, flush_interval=0.05, max_batch=7)

    def run(i: int) -> None:
        with dspy_ash.context(lm=FakeLM(), callbacks=[rec]):
            for j in range(10):
                TwoStep()(question=f"{i}-{j}")

    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(run, range(4)))
        assert rec.flush()
        assert (rec.stats.traces_written, rec.stats.spans_written, rec.stats.write_errors) == (40, 240, 0)
    finally:
        rec.close()
