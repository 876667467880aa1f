"""Executions per second through the real server, against the library and DSPy's usual deployment.

    python benchmarks/service.py [--latency-ms 100] [--clients 256] [--requests 4096]
                                 [--dspy-python bench-venvs/dspy/bin/python] [--skip-dspy] [--skip-postgres]

One program, `question -> answer` (Predict), on the referee LM server /work/shared/tools/mocklm.py at a fixed
latency, every question unique (no cache hits), `--clients` concurrent callers, in one invocation:

- library: `await program.acall(question=...)` in this process (dspy-ash, no server, no traces);
- dspy-ash server: `dspy-ash serve` (uvicorn, one worker) on SQLite and on PostgreSQL, each request
  `POST /api/v1/programs/{id}/execute` with an API key, every execution traced into the database;
- dspy 3.4.1 server: the deployment DSPy's tutorial shows, a FastAPI endpoint awaiting
  `dspy.asyncify(program)(question=...)` under uvicorn, in DSPy's own interpreter
  (benchmarks/setup_dspy_venv.sh; it needs fastapi and uvicorn there too).

Each line gives executions/s, p50 and p99 latency, and for the servers the server process's CPU time per
execution (user + system, read from /proc), which bounds what tracing may cost.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from throughput import free_port, start_mocklm  # noqa: E402

SPEC = {
    "inputs": ["question"],
    "steps": [{"type": "predict", "id": "qa", "signature": "question -> answer"}],
    "outputs": {"answer": "qa.answer"},
}
DSPY_APP = textwrap.dedent(
    """
    import os, dspy
    from fastapi import FastAPI
    from pydantic import BaseModel
    dspy.configure(lm=dspy.LM("openai/bench", api_base=os.environ["LM_BASE"], api_key="x", cache=False))
    program = dspy.asyncify(dspy.Predict("question -> answer"))
    app = FastAPI()
    class Ask(BaseModel):
        question: str
    @app.post("/predict")
    async def predict(ask: Ask):
        return {"answer": (await program(question=ask.question)).answer}
    """
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def load(clients: int, total: int, one: Callable[[int], Awaitable[None]]) -> tuple[float, list[float]]:
    """`total` calls from `clients` concurrent callers: (calls per second, each call's seconds)."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def caller() -> None:
        for i in counter:
            start = time.perf_counter()
            await one(i)
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(clients)))
    return total / (time.perf_counter() - start), latencies


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def report(name: str, rate: float, latencies: list[float], cpu_per_call: float | None = None) -> None:
    cpu = "" if cpu_per_call is None else f"  server CPU {cpu_per_call * 1e6:7.0f} µs/execution"
    print(
        f"{name:<28} {rate:8.0f} executions/s  p50 {percentile(latencies, 0.5) * 1e3:6.1f} ms"
        f"  p99 {percentile(latencies, 0.99) * 1e3:6.1f} ms{cpu}",
        flush=True,
    )


async def library(lm_base: str, clients: int, total: int) -> None:
    import dspy_ash as dspy
    from dspy_ash.programs import build_program

    program = build_program(SPEC)
    lm = dspy.LM("openai/bench", api_base=lm_base, api_key="x", cache=False)
    run = uuid.uuid4().hex[:8]

    async def one(i: int) -> None:
        with dspy.context(lm=lm):
            await program.acall(question=f"{run} question {i}?")

    await one(-1)  # warm: the session and the prompt caches
    rate, latencies = await load(clients, total, one)
    report("library (acall)", rate, latencies)


async def _prepare(url: str, lm_base: str) -> tuple[str, str]:
    """A fresh service database with a tenant, its admin key, an LM provider and the program."""
    from dspy_ash.actions import Actor, Services, invoke
    from dspy_ash.store import Database, repos
    from dspy_ash.store import _migrate as migrate

    await migrate.upgrade(url)
    db = Database(url)
    try:
        async with db.transaction() as s:
            tenant = await repos.tenants.create_tenant(s, name=f"bench-{uuid.uuid4().hex[:6]}", actor="bench")
            _, key = await repos.api_keys.create_api_key(
                s, tenant_id=tenant.id, actor="bench", name="bench", role="admin", rate_limit_per_minute=10**8
            )
        services = Services(db=db)
        admin = Actor(tenant_id=tenant.id, role="admin", subject="bench")
        provider = await invoke(services, "providers.create", admin, {
            "name": "mocklm", "kind": "openai_compatible", "base_url": lm_base,
            "config": {"model": "bench", "num_retries": 0},
        })  # fmt: skip
        await invoke(services, "providers.set_default", admin, {"provider_id": provider.id})
        program = await invoke(services, "programs.create", admin, {"name": "qa", "spec": SPEC})
        return key, str(program.id)
    finally:
        await db.dispose()


def _start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            import urllib.request

            urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{cmd[0]} did not start on port {port}")


async def _drive(
    name: str, proc: subprocess.Popen[bytes], url: str, body: Callable[[int], dict[str, str]],
    headers: dict[str, str], clients: int, total: int,
) -> None:  # fmt: skip
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one(i: int) -> None:
            async with http.post(url, json=body(i), headers=headers) as response:
                if response.status != 200:
                    raise RuntimeError(f"{name}: {response.status} {await response.text()}")
                await response.read()

        await one(-1)
        before = cpu_seconds(proc.pid)
        rate, latencies = await load(clients, total, one)
        report(name, rate, latencies, (cpu_seconds(proc.pid) - before) / total)


async def dspy_ash_server(name: str, url: str, lm_base: str, clients: int, total: int) -> None:
    key, program_id = await _prepare(url, lm_base)
    port = free_port()
    cmd = [sys.executable, "-m", "dspy_ash.cli", "serve", "--port", str(port), "--database-url", url,
           "--log-level", "warning"]  # fmt: skip
    proc = _start(cmd, {"DSPY_ASH_PROGRAM_CONCURRENCY": str(clients * 2)}, port)
    run = uuid.uuid4().hex[:8]
    try:
        await _drive(
            name, proc, f"http://127.0.0.1:{port}/api/v1/programs/{program_id}/execute",
            lambda i: {"inputs": {"question": f"{run} question {i}?"}},
            {"Authorization": f"Bearer {key}"}, clients, total,
        )  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(10)


async def dspy_server(python: str, lm_base: str, clients: int, total: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "dspy_app.py").write_text(DSPY_APP)
        port = free_port()
        cmd = [python, "-m", "uvicorn", "dspy_app:app", "--port", str(port), "--log-level", "warning"]
        proc = _start(cmd, {"LM_BASE": lm_base, "PYTHONPATH": tmp, "DSPY_CACHEDIR": tmp}, port)
        run = uuid.uuid4().hex[:8]
        try:
            await _drive(
                "dspy 3.4.1 (asyncify)", proc, f"http://127.0.0.1:{port}/predict",
                lambda i: {"question": f"{run} question {i}?"}, {}, clients, total,
            )  # fmt: skip
        finally:
            proc.terminate()
            proc.wait(10)


def _postgres_url() -> str | None:
    try:
        import psycopg

        admin = psycopg.connect(
            host="127.0.0.1", user="postgres", dbname="test", autocommit=True, connect_timeout=3
        )
    except Exception:
        return None
    name = f"dspy_ash_bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--clients", type=int, default=256)
    parser.add_argument("--requests", type=int, default=4096)
    parser.add_argument("--dspy-python", default=str(ROOT / "bench-venvs" / "dspy" / "bin" / "python"))
    parser.add_argument("--skip-dspy", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    mock, lm_base = start_mocklm(args.latency_ms)
    print(f"LM latency {args.latency_ms:.0f} ms, {args.clients} clients, {args.requests} executions each\n")
    try:
        await library(lm_base, args.clients, args.requests)
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/service.db"
            await dspy_ash_server("dspy-ash server, SQLite", url, lm_base, args.clients, args.requests)
        pg = None if args.skip_postgres else _postgres_url()
        if pg is not None:
            await dspy_ash_server("dspy-ash server, PostgreSQL", pg, lm_base, args.clients, args.requests)
        if not args.skip_dspy:
            await dspy_server(args.dspy_python, lm_base, args.clients, min(args.requests, 1024))
    finally:
        mock.terminate()


if __name__ == "__main__":
    asyncio.run(main())
