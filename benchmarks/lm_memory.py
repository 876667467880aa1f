"""Resident memory while making 100,000 LM calls with unique prompts: the cache and history caps hold.

    python benchmarks/lm_memory.py [--calls 100000] [--concurrency 256] [--memory-max-mb 32]

Calls go over HTTP to the referee server (/work/shared/tools/mocklm.py, no latency); every call is a
cache miss whose reply is stored in the memory cache (disk off) and appended to the LM's and the global
history (capped by settings.max_history_size, 10,000 by default). RSS is sampled every 10% of the run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import time
from pathlib import Path

from throughput import ASK, start_mocklm

import dspy_ash
from dspy_ash.lm import _http as http
from dspy_ash.lm._cache import configure_cache
from dspy_ash.lm._history import GLOBAL_HISTORY


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def run(api_base: str, calls: int, concurrency: int, memory_max_mb: int) -> list[dict[str, float]]:
    cache = configure_cache(enable_disk_cache=False, memory_max_bytes=memory_max_mb * 1024 * 1024)
    lm = dspy_ash.LM("openai/mock", api_base=api_base, api_key="x")
    await lm.acall("warm-up")
    gc.collect()
    samples = [{"calls": 0, "rss_mb": rss_mb(), "cache_entries": 0, "cache_mb": 0.0, "history": 0}]
    done = 0
    step = calls // 10
    start = time.perf_counter()

    async def worker(w: int) -> None:
        nonlocal done
        i = w
        while i < calls:
            await lm.acall(messages=[{"role": "user", "content": ASK.format(q=f"question number {i}")}])
            done += 1
            if done % step == 0:
                assert cache.memory is not None
                samples.append(
                    {
                        "calls": done,
                        "rss_mb": rss_mb(),
                        "cache_entries": len(cache.memory),
                        "cache_mb": cache.memory.size_bytes / 2**20,
                        "history": len(lm.history),
                    }
                )
            i += concurrency

    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    samples[-1]["rps"] = calls / (time.perf_counter() - start)
    samples[-1]["global_history"] = len(GLOBAL_HISTORY)
    await http.close_session()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--memory-max-mb", type=int, default=32)
    args = parser.parse_args()
    proc, api_base = start_mocklm(0)
    try:
        samples = asyncio.run(run(api_base, args.calls, args.concurrency, args.memory_max_mb))
    finally:
        proc.terminate()
        proc.wait()
    for sample in samples:
        print(json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in sample.items()}))
    print()
    print("| calls | RSS MB | memory cache entries | memory cache MB | lm.history |")
    print("|---|---|---|---|---|")
    for s in samples:
        print(
            f"| {s['calls']:,} | {s['rss_mb']:.0f} | {s['cache_entries']:,} | {s['cache_mb']:.1f} | {s['history']:,} |"
        )


if __name__ == "__main__":
    main()
