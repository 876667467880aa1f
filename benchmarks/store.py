"""The store's costs: execution throughput with traces recorded vs. recording off, and trace query
latency with a million spans stored. On SQLite and PostgreSQL.

    python benchmarks/store.py [--db sqlite,postgresql] [--executions 2000] [--concurrency 16]
                               [--rounds 3] [--spans 1000000]

Throughput: a two-step program (Predict then ChainOfThought) on an in-process fake LM that answers
after `--lm-latency` seconds. At 0 the run is CPU-bound and measures the framework plus the
recorder: the recorder's worst case. With a latency (50 ms is faster than hosted models answer)
the recorder's work fits in the time the program waits. Executions run as asyncio tasks,
`--concurrency` at a time; rounds alternate off/on and the median is reported. The time to drain
the recorder's queue after the last execution counts against "on" (the writer must keep up, not
defer), and is also reported separately, as are dropped traces.

Query latency: `--spans` spans (10 per trace, 40 programs) bulk-inserted for one tenant, then
p50/p95 over 200 runs of the service's trace queries. PostgreSQL uses a fresh database on
127.0.0.1:5432 (dropped afterwards); SQLite a file in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dspy_ash
from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._types import Choice, LMRequest, LMResponse, Usage

REPLY = (
    "[[ ## reasoning ## ]]\nr\n\n[[ ## query ## ]]\nq\n\n[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"
)


class ZeroLM(BaseLM):
    """Answers after `latency` seconds (0: at once, the recorder's worst case)."""

    def __init__(self, latency: float = 0.0) -> None:
        super().__init__("openai/zero", cache=False)
        self.latency = latency

    async def request(self, req: LMRequest) -> LMResponse:
        if self.latency:
            await asyncio.sleep(self.latency)
        return LMResponse(choices=[Choice(text=REPLY)], usage=Usage(30, 10, 40), cost=0.0001, latency=0.0)


class TwoStep(dspy_ash.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rewrite = dspy_ash.Predict("question -> query")
        self.qa = dspy_ash.ChainOfThought("question, query -> answer")

    async def aforward(self, question: str) -> Any:
        query = await self.rewrite.acall(question=question)
        return await self.qa.acall(question=question, query=query.query)


@contextlib.contextmanager
def database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        return
    import psycopg

    admin = psycopg.connect(host="127.0.0.1", port=5432, user="postgres", dbname="test", autocommit=True)
    name = f"dspy_ash_bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


async def _tenant(url: str) -> uuid.UUID:
    from dspy_ash.store import Database, repos
    from dspy_ash.store import _migrate as migrate

    await migrate.upgrade(url)
    async with Database(url) as db, db.transaction() as s:
        return (await repos.tenants.create_tenant(s, name=f"bench-{uuid.uuid4().hex[:6]}", actor="bench")).id


async def _executions(program: TwoStep, n: int, concurrency: int) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await program.acall(question=f"question {i}")

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return n / (time.perf_counter() - start)


async def throughput(
    url: str, executions: int, concurrency: int, rounds: int, latency: float
) -> dict[str, Any]:
    from dspy_ash.store import TraceRecorder

    tenant_id = await _tenant(url)
    recorder = TraceRecorder(url, tenant_id=tenant_id)
    program = TwoStep()
    off: list[float] = []
    noop: list[float] = []  # any subscriber makes the engine build events: the floor under any recorder
    on: list[float] = []
    drains: list[float] = []
    with dspy_ash.context(lm=ZeroLM(latency)):
        await _executions(program, 200, concurrency)  # warm-up
        for _ in range(rounds):
            off.append(await _executions(program, executions, concurrency))
            with dspy_ash.context(callbacks=[lambda event: None]):
                noop.append(await _executions(program, executions, concurrency))
            with dspy_ash.context(callbacks=[recorder]):
                start = time.perf_counter()
                await _executions(program, executions, concurrency)
                ran = time.perf_counter() - start
            await recorder.aflush(timeout=300)
            # Counted until every trace is in the database: the writer must keep up, not merely defer.
            on.append(executions / (time.perf_counter() - start))
            drains.append(time.perf_counter() - start - ran)
    await recorder.aclose()
    off_med, on_med = statistics.median(off), statistics.median(on)
    return {
        "off": off_med,
        "noop": statistics.median(noop),
        "on": on_med,
        "overhead_pct": (1 - on_med / off_med) * 100,
        "drain_s": statistics.median(drains),
        "written": recorder.stats.traces_written,
        "spans": recorder.stats.spans_written,
        "dropped": recorder.stats.traces_dropped,
    }


async def query_latency(url: str, spans: int) -> dict[str, Any]:
    from dspy_ash.store import Database, repos
    from dspy_ash.store._bulk import BulkInsert
    from dspy_ash.store.models import Trace, TraceSpan

    tenant_id = await _tenant(url)
    programs = [uuid.uuid4() for _ in range(40)]
    per_trace = 10
    n_traces = spans // per_trace
    start_time = datetime.now(UTC) - timedelta(days=30)
    batch = 2_000  # traces per transaction
    t0 = time.perf_counter()
    sample_trace = None
    async with Database(url) as db:
        trace_insert, span_insert = (
            BulkInsert(Trace, db.dialect),
            BulkInsert(TraceSpan, db.dialect),
        )
        for first in range(0, n_traces, batch):
            traces, rows = [], []
            for i in range(first, min(first + batch, n_traces)):
                tid = uuid.uuid4()
                when = start_time + timedelta(seconds=i * 2.5)
                traces.append(
                    {
                        "id": tid,
                        "tenant_id": tenant_id,
                        "program_id": programs[i % len(programs)],
                        "version_id": None,
                        "name": "TwoStep",
                        "call_id": uuid.uuid4().hex,
                        "status": "ok",
                        "started_at": when,
                        "duration": 0.5,
                        "inputs": {"question": f"q{i}"},
                        "outputs": {"answer": "a"},
                        "error": None,
                        "span_count": per_trace,
                        "total_tokens": 80,
                        "cost": None,
                        "created_at": when,
                        "updated_at": when,
                    }
                )
                for j in range(per_trace):
                    lm = j % 2 == 1
                    rows.append(
                        {
                            "id": uuid.uuid4(),
                            "tenant_id": tenant_id,
                            "trace_id": tid,
                            "call_id": uuid.uuid4().hex,
                            "parent_call_id": None,
                            "kind": "lm" if lm else "module",
                            "name": "openai/zero" if lm else "Predict",
                            "started_at": when + timedelta(milliseconds=j),
                            "duration": 0.01,
                            "inputs": {"question": f"q{i}"},
                            "outputs": {"answer": "a"},
                            "prompt": [{"role": "user", "content": f"q{i}"}] if lm else None,
                            "reply": "[[ ## answer ## ]]\na" if lm else None,
                            "model": "openai/zero" if lm else None,
                            "prompt_tokens": 30 if lm else 0,
                            "completion_tokens": 10 if lm else 0,
                            "latency": 0.01 if lm else None,
                            "cost": None,
                            "cache_hit": False,
                            "error": None,
                            "created_at": when,
                            "updated_at": when,
                        }
                    )
                sample_trace = tid
            async with db.engine.begin() as conn:
                await trace_insert.run(conn, traces)
                await span_insert.run(conn, rows)
        load_s = time.perf_counter() - t0
        if db.dialect == "postgresql":
            from sqlalchemy import text

            async with db.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("ANALYZE trace; ANALYZE trace_span"))

        assert sample_trace is not None
        window_end = start_time + timedelta(seconds=n_traces * 2.5)

        async def by_program(s: Any) -> Any:
            return await repos.traces.list_traces(s, tenant_id=tenant_id, program_id=programs[7], limit=50)

        async def window(s: Any) -> Any:
            return await repos.traces.list_traces(
                s, tenant_id=tenant_id, since=window_end - timedelta(hours=1), until=window_end, limit=100
            )

        async def one_trace(s: Any) -> Any:
            return await repos.traces.get_trace(s, tenant_id=tenant_id, trace_id=sample_trace)

        results: dict[str, Any] = {"load_s": load_s, "traces": n_traces, "spans": n_traces * per_trace}
        for name, query in (
            ("50 newest traces of a program", by_program),
            ("traces in a 1-hour window", window),
            ("one trace with its 10 spans", one_trace),
        ):
            times = []
            for _ in range(200):
                t = time.perf_counter()
                async with db.transaction() as s:
                    found = await query(s)
                times.append((time.perf_counter() - t) * 1000)
            assert found
            times.sort()
            results[name] = (statistics.median(times), times[int(len(times) * 0.95)])
    return results


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--executions", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument(
        "--lm-latency",
        default="0,0.05",
        help="seconds each fake LM call takes, comma-separated; 0 is the worst case",
    )
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {args.executions} executions x {args.rounds} rounds, "
        f"concurrency {args.concurrency}, {args.spans} spans"
    )
    for kind in args.db.split(","):
        for latency in (float(x) for x in args.lm_latency.split(",")):
            with database(kind) as url:
                t = await throughput(url, args.executions, args.concurrency, args.rounds, latency)
            print(
                f"[{kind}] LM latency {latency * 1000:.0f} ms: executions/s recording off {t['off']:.0f}, "
                f"on {t['on']:.0f} (throughput cost {t['overhead_pct']:.1f}%; a no-op subscriber alone: {t['noop']:.0f}); "
                f"queue drained {t['drain_s']:.2f}s after the last "
                f"execution; {t['written']} traces / {t['spans']} spans written, {t['dropped']} dropped"
            )
        if args.spans:
            with database(kind) as url:
                q = await query_latency(url, args.spans)
                print(f"[{kind}] loaded {q['traces']} traces / {q['spans']} spans in {q['load_s']:.0f}s")
                for name, value in q.items():
                    if isinstance(value, tuple):
                        print(f"[{kind}]   {name}: p50 {value[0]:.2f} ms, p95 {value[1]:.2f} ms")


if __name__ == "__main__":
    asyncio.run(main())
