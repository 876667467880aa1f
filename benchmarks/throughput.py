"""Requests per second through the LM layer at 100 ms of LM latency, dspy-ash and dspy 3.4.1 side by side.

    python benchmarks/throughput.py [--latency-ms 100] [--concurrency 16,64,256,1024] [--rounds 8]
                                    [--dspy-python bench-venvs/dspy/bin/python] [--skip-dspy]

Both sides talk to the referee server /work/shared/tools/mocklm.py (started here as a subprocess), one
after the other in the same invocation. For each concurrency C, C workers each send `rounds` requests
with unique prompts (no cache hits; caches off unless "cache on": then every call is a miss that is
written to the memory and disk caches, the default configuration) and the figure is requests / wall time (dspy-ash: the
best of `--repeat` runs, since this 2-core machine is shared and a single short run is noisy).

- aiohttp (ceiling): a bare aiohttp client posting the same JSON; nothing can beat it through HTTP.
- dspy-ash: `await lm.acall(prompt)` and `await Predict("question -> answer").acall(question=...)`, each
  with GC pacing on (`enable_gc_pacing()`, what the project's servers run with: its best) and off (a
  library user's default); see docs/lm.md.
- dspy 3.4.1 (own interpreter, see benchmarks/setup_dspy_venv.sh): `lm(prompt)` on a thread pool of C
  threads, `Predict.batch(examples, num_threads=C)`, and `await lm.acall(...)` under asyncio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MOCKLM = Path("/work/shared/tools/mocklm.py")

ASK = (
    "[[ ## question ## ]]\n{q}\n\nRespond with the corresponding output fields, starting with the field "
    "`[[ ## answer ## ]]`, and then ending with the marker for `[[ ## completed ## ]]`."
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mocklm(latency_ms: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(MOCKLM), "--port", str(port), "--latency-ms", str(latency_ms)],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # "mocklm listening on ..."
    return proc, f"http://127.0.0.1:{port}/v1"


async def run_workers(concurrency: int, rounds: int, one: Callable[[int], Awaitable[object]]) -> float:
    async def worker(w: int) -> None:
        for r in range(rounds):
            await one(w * rounds + r)

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return concurrency * rounds / (time.perf_counter() - start)


async def ours(
    api_base: str, concurrency: int, rounds: int, mode: str, tag: str, pacing: bool = True
) -> float:
    import aiohttp

    import dspy_ash
    from dspy_ash.lm import _http as http
    from dspy_ash.lm._cache import configure_cache
    from dspy_ash.settings import enable_gc_pacing

    enable_gc_pacing(pacing)

    if mode == "aiohttp":
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def post(i: int) -> object:
                body = {"model": "mock", "messages": [{"role": "user", "content": ASK.format(q=f"{tag}{i}")}]}
                async with session.post(
                    f"{api_base}/chat/completions", json=body, headers={"Authorization": "Bearer x"}
                ) as resp:
                    return await resp.json()

            await post(-1)
            return await run_workers(concurrency, rounds, post)
    if mode == "lm_cached":  # the default configuration: memory + disk cache, every call a miss and a write
        with tempfile.TemporaryDirectory(prefix="lm-bench-cache-") as tmp:
            configure_cache(disk_cache_dir=tmp)
            lm = dspy_ash.LM("openai/mock", api_base=api_base, api_key="x")
            try:
                return await run_workers(
                    concurrency,
                    rounds,
                    lambda i: lm.acall(messages=[{"role": "user", "content": ASK.format(q=f"{tag}{i}")}]),
                )
            finally:
                configure_cache(enable_disk_cache=False)  # drains the writer before the directory goes
                await http.close_session()
    lm = dspy_ash.LM("openai/mock", api_base=api_base, api_key="x", cache=False)
    await lm.acall("warm-up")
    try:
        if mode == "lm":
            return await run_workers(
                concurrency,
                rounds,
                lambda i: lm.acall(messages=[{"role": "user", "content": ASK.format(q=f"{tag}{i}")}]),
            )
        predict = dspy_ash.Predict("question -> answer")
        with dspy_ash.context(lm=lm, disable_history=False):
            return await run_workers(concurrency, rounds, lambda i: predict.acall(question=f"{tag}{i}"))
    finally:
        await http.close_session()


DSPY_SIDE = r"""
import asyncio, json, logging, sys, time
from concurrent.futures import ThreadPoolExecutor
import dspy
logging.disable(logging.WARNING)
api_base, concurrency, rounds, tag, ASK = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
lm = dspy.LM("openai/mock", api_base=api_base, api_key="x", cache=False)
dspy.configure(lm=lm)
lm(messages=[{"role": "user", "content": "warm-up"}])
n = concurrency * rounds
out = {}
start = time.perf_counter()
with ThreadPoolExecutor(concurrency) as pool:
    list(pool.map(lambda i: lm(messages=[{"role": "user", "content": ASK.format(q=f"{tag}l{i}")}]), range(n)))
out["lm"] = n / (time.perf_counter() - start)
predict = dspy.Predict("question -> answer")
examples = [dspy.Example(question=f"{tag}p{i}").with_inputs("question") for i in range(n)]
start = time.perf_counter()
predict.batch(examples, num_threads=concurrency, disable_progress_bar=True)
out["predict"] = n / (time.perf_counter() - start)
async def run_async():
    async def worker(w):
        for r in range(rounds):
            await lm.acall(messages=[{"role": "user", "content": ASK.format(q=f"{tag}a{w * rounds + r}")}])
    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return n / (time.perf_counter() - start)
out["lm_async"] = asyncio.run(run_async())
cached = dspy.LM("openai/mock", api_base=api_base, api_key="x")  # default cache: memory + disk
start = time.perf_counter()
with ThreadPoolExecutor(concurrency) as pool:
    list(pool.map(lambda i: cached(messages=[{"role": "user", "content": ASK.format(q=f"{tag}c{i}")}]), range(n)))
out["lm_cached"] = n / (time.perf_counter() - start)
print(json.dumps(out))
"""


def dspy_side(python: str, api_base: str, concurrency: int, rounds: int, tag: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="dspy-bench-cache-") as cache_dir:
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "DSPY_CACHEDIR": cache_dir}
        result = subprocess.run(
            [python, "-c", DSPY_SIDE, api_base, str(concurrency), str(rounds), tag, ASK],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=900,
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--concurrency", default="16,64,256,1024")
    parser.add_argument("--rounds", type=int, default=8, help="requests per worker (dspy-ash)")
    parser.add_argument("--dspy-rounds", type=int, default=4, help="requests per worker (dspy)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per dspy-ash figure (best kept)")
    parser.add_argument("--dspy-python", default=str(ROOT / "bench-venvs/dspy/bin/python"))
    parser.add_argument("--skip-dspy", action="store_true")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    proc, api_base = start_mocklm(args.latency_ms)
    rows: list[dict[str, object]] = []
    try:
        for c in levels:
            row: dict[str, object] = {"concurrency": c, "ideal": c / (args.latency_ms / 1000)}
            for mode in ("aiohttp", "lm", "predict", "lm_cached"):
                row[f"ours_{mode}"] = max(
                    asyncio.run(ours(api_base, c, args.rounds, mode, f"c{c}{mode}{r}"))
                    for r in range(args.repeat)
                )
            for mode in ("lm", "predict"):  # the same without GC pacing: a library user's default
                row[f"ours_{mode}_nogc"] = max(
                    asyncio.run(ours(api_base, c, args.rounds, mode, f"c{c}{mode}n{r}", pacing=False))
                    for r in range(args.repeat)
                )
            if not args.skip_dspy and Path(args.dspy_python).exists():
                for mode, rps in dspy_side(args.dspy_python, api_base, c, args.dspy_rounds, f"d{c}").items():
                    row[f"dspy_{mode}"] = rps
            rows.append(row)
            print(
                json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in row.items()}),
                flush=True,
            )
    finally:
        proc.terminate()
        proc.wait()
    print()
    print(
        "| concurrency | ideal | aiohttp (ceiling) | dspy-ash lm.acall | dspy-ash Predict.acall "
        "| dspy-ash lm.acall, GC pacing off | dspy-ash Predict.acall, GC pacing off "
        "| dspy-ash lm.acall, cache on | dspy lm() threads | dspy Predict.batch | dspy lm.acall "
        "| dspy lm() threads, cache on |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:

        def cell(key: str, row: dict[str, object] = row) -> str:
            value = row.get(key)
            return f"{value:,.0f}" if isinstance(value, float) else "n/a"

        print(
            f"| {row['concurrency']} | {cell('ideal')} | {cell('ours_aiohttp')} | {cell('ours_lm')} | "
            f"{cell('ours_predict')} | {cell('ours_lm_nogc')} | {cell('ours_predict_nogc')} | "
            f"{cell('ours_lm_cached')} | {cell('dspy_lm')} | {cell('dspy_predict')} | "
            f"{cell('dspy_lm_async')} | {cell('dspy_lm_cached')} |"
        )


if __name__ == "__main__":
    main()
