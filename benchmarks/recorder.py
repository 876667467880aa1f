"""CPU cost of recording one traced execution, in the serving process, on SQLite and PostgreSQL.

    python benchmarks/recorder.py [--db sqlite,postgresql] [--executions 5000] [--rounds 5]
                                  [--concurrency 256] [--runners concurrent,sequential] [--profile]

A typical execution: `Predict("question -> answer")` with one LM call to an instant in-process LM
(the worst case for the recorder: nothing hides its work). Each trace is 4 rows: the trace, 2 spans
(the Predict, which is the trace's root, and its LM call) and one `lm_request`. Each round runs
`--executions` executions with recording off, with a subscriber that does nothing (the engine's own
cost of building events for any subscriber), then with a `TraceRecorder` subscribed and flushed to
the database, and measures the process's CPU time (`time.process_time()`: every thread, so the
caller's hot path, the writer thread and SQLite's driver thread all count; PostgreSQL's server
process does not, it is not the serving process). The cost per traced execution is
(CPU on - CPU off) / executions, median over rounds. Executions run concurrently as a server runs
them (asyncio tasks calling `acall`, `--concurrency` in flight) and one after another.

The caller thread's CPU (the one running the event loop: the hot path) and the writer thread's are
read from their own clocks and reported too; what is left is SQLite's driver thread (aiosqlite).
`--profile` prints cProfile tables of the caller and writer threads instead. PostgreSQL is
127.0.0.1:5432, database `test` (a fresh database is created and dropped); it is skipped with a
message when unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import dspy_ash
from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._types import Choice, LMRequest, LMResponse, Usage

REPLY = "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"


class InstantLM(BaseLM):
    """Answers at once with usage and a cost, as a hosted model's reply carries them."""

    def __init__(self) -> None:
        super().__init__("openai/instant", cache=False)

    async def request(self, req: LMRequest) -> LMResponse:
        return LMResponse(choices=[Choice(text=REPLY)], usage=Usage(30, 10, 40), cost=0.0001, latency=0.0)


@contextlib.contextmanager
def database(kind: str) -> Iterator[str | None]:
    """A fresh, empty database URL, or None (with a message) when PostgreSQL is unreachable."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        return
    import psycopg

    try:
        admin = psycopg.connect(
            host="127.0.0.1", port=5432, user="postgres", dbname="test", autocommit=True, connect_timeout=3
        )
    except psycopg.OperationalError as exc:
        print(f"[postgresql] skipped: not reachable on 127.0.0.1:5432 ({str(exc).strip().splitlines()[0]})")
        yield None
        return
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


class _Silent:
    """A subscriber that does nothing, wanting what the recorder wants: the engine's own cost of events."""

    event_kinds = frozenset({"module", "lm", "tool", "evaluate", "compile"})

    def on_event(self, event: Any) -> None:
        pass


Runner = Callable[[Any, int], Awaitable[None]]


async def concurrent(program: Any, n: int, concurrency: int = 256) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with gate:
            await program.acall(question=f"question {i}")

    await asyncio.gather(*(one(i) for i in range(n)))


async def sequential(program: Any, n: int) -> None:
    for i in range(n):
        await program.acall(question=f"question {i}")


def _thread_cpu(thread: threading.Thread) -> float:
    """CPU seconds a (running) thread has used, from its own clock."""
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


async def _measured(run: Callable[[], Awaitable[None]], recorder: Any | None) -> tuple[float, float, float]:
    """(process CPU, caller thread CPU, writer thread CPU) of `run()` plus, when recording, the flush to
    the database. The caller thread is the one running the event loop: the hot path."""
    gc.collect()
    writer = recorder._thread if recorder is not None else None
    w0 = _thread_cpu(writer) if writer is not None else 0.0
    c0 = time.process_time()
    m0 = time.thread_time()
    await run()
    main = time.thread_time() - m0
    if recorder is not None:
        # a blocking wait on the condition: no CPU of its own, only the writer's work counts
        assert recorder.flush(timeout=600), "the recorder did not drain in 600 s"
    cpu = time.process_time() - c0
    return cpu, main, (_thread_cpu(writer) - w0) if writer is not None else 0.0


async def measure(url: str, runner: str, executions: int, rounds: int, concurrency: int) -> dict[str, Any]:
    from dspy_ash.store import TraceRecorder

    tenant_id = await _tenant(url)
    recorder = TraceRecorder(url, tenant_id=tenant_id)
    program = dspy_ash.Predict("question -> answer")

    def run(n: int) -> Callable[[], Awaitable[None]]:
        if runner == "concurrent":
            return lambda: concurrent(program, n, concurrency)
        return lambda: sequential(program, n)

    off: list[float] = []
    noop: list[float] = []
    on: list[float] = []
    main_off: list[float] = []
    main_on: list[float] = []
    writer: list[float] = []
    with dspy_ash.context(lm=InstantLM()):
        await run(500)()  # warm-up: imports, caches, the writer's statements
        with dspy_ash.context(callbacks=[recorder]):
            await _measured(run(500), recorder)
        written0 = recorder.stats.traces_written
        for _ in range(rounds):
            cpu, main, _ = await _measured(run(executions), None)
            off.append(cpu)
            main_off.append(main)
            with dspy_ash.context(callbacks=[_Silent()]):
                noop.append((await _measured(run(executions), None))[0])
            with dspy_ash.context(callbacks=[recorder]):
                cpu, main, w = await _measured(run(executions), recorder)
            on.append(cpu)
            main_on.append(main)
            writer.append(w)
    stats = recorder.stats
    await recorder.aclose()
    per = 1e6 / executions
    return {
        "off_us": statistics.median(off) * per,
        "on_us": statistics.median(on) * per,
        "cost_us": statistics.median(b - a for a, b in zip(off, on, strict=True)) * per,
        "events_us": statistics.median(b - a for a, b in zip(off, noop, strict=True)) * per,
        "costs_us": [(b - a) * per for a, b in zip(off, on, strict=True)],
        "writer_us": statistics.median(writer) * per,
        "caller_us": statistics.median(b - a for a, b in zip(main_off, main_on, strict=True)) * per,
        "written": stats.traces_written - written0,
        "expected": executions * rounds,
        "dropped": stats.traces_dropped,
        "errors": stats.write_errors,
    }


async def profile(url: str, executions: int, concurrency: int) -> None:
    """cProfile of recorded concurrent executions (every thread) sorted by own time: where the cost is."""
    import cProfile
    import pstats

    from dspy_ash.store import TraceRecorder

    writer_profile = cProfile.Profile()

    class Profiled(TraceRecorder):
        def _thread_main(self) -> None:
            writer_profile.runcall(super()._thread_main)

    tenant_id = await _tenant(url)
    recorder = Profiled(url, tenant_id=tenant_id)
    program = dspy_ash.Predict("question -> answer")
    caller_profile = cProfile.Profile()
    with dspy_ash.context(lm=InstantLM(), callbacks=[recorder]):
        await concurrent(program, executions, concurrency)
        recorder.flush()
        caller_profile.enable()
        await concurrent(program, executions, concurrency)
        recorder.flush()
        caller_profile.disable()
    await recorder.aclose()
    for title, prof in (("caller (event loop) thread", caller_profile), ("writer thread", writer_profile)):
        print(f"==== {title}")
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--executions", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--runners", default="concurrent,sequential")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the caller and writer threads instead"
    )
    args = parser.parse_args()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}, "
        f"{args.executions} executions x {args.rounds} rounds, concurrency {args.concurrency}"
    )
    for kind in args.db.split(","):
        with database(kind) as url:
            if url is None:
                continue
            if args.profile:
                await profile(url, args.executions, args.concurrency)
                continue
            for runner in args.runners.split(","):
                r = await measure(url, runner, args.executions, args.rounds, args.concurrency)
                print(
                    f"[{kind}] {runner}: CPU per traced execution {r['cost_us']:.1f} µs "
                    f"(rounds: {', '.join(f'{c:.0f}' for c in r['costs_us'])}); "
                    f"execution alone {r['off_us']:.1f} µs, recorded {r['on_us']:.1f} µs, "
                    f"(the engine's events alone, for a subscriber that does nothing: {r['events_us']:.1f} µs); "
                    f"the difference: caller thread {r['caller_us']:.1f} µs, writer thread {r['writer_us']:.1f} µs, "
                    f"other threads (SQLite's) the rest; "
                    f"{r['written']}/{r['expected']} traces written, {r['dropped']} dropped, "
                    f"{r['errors']} write errors"
                )


if __name__ == "__main__":
    asyncio.run(main())
