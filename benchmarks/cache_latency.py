"""Latency of an LM cache hit (memory level, disk level), dspy-ash and dspy 3.4.1 side by side.

    python benchmarks/cache_latency.py [--n 3000] [--dspy-python bench-venvs/dspy/bin/python] [--skip-dspy]

One miss fills the cache from the referee server (/work/shared/tools/mocklm.py, no latency), then the
same request is repeated `n` times; the figure is the median (and p90) wall time of one call, in µs.
"Disk" disables the memory level so every hit reads the persistent store. Each side runs in its own
interpreter with its own fresh cache directory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from throughput import ROOT, start_mocklm

OURS = r"""
import asyncio, json, statistics, sys, time
import dspy_ash
from dspy_ash.lm._cache import configure_cache
api_base, n, cache_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
msgs = [{"role": "user", "content": "What is the capital of France? " * 20}]
def stats(samples):
    samples.sort()
    return {"median_us": statistics.median(samples) * 1e6, "p90_us": samples[int(len(samples) * 0.9)] * 1e6}
out = {}
for level in ("memory", "disk"):
    configure_cache(disk_cache_dir=f"{cache_dir}/{level}", enable_memory_cache=(level == "memory"))
    lm = dspy_ash.LM("openai/mock", api_base=api_base, api_key="x")
    async def run():
        await lm.acall(messages=msgs)
        samples = []
        for _ in range(n):
            t = time.perf_counter(); await lm.acall(messages=msgs); samples.append(time.perf_counter() - t)
        assert lm.history[-1]["cache_hit"]
        return samples
    out[f"{level}_acall"] = stats(asyncio.run(run()))
    samples = []
    for _ in range(n):
        t = time.perf_counter(); lm(messages=msgs); samples.append(time.perf_counter() - t)
    out[f"{level}_sync"] = stats(samples)
print(json.dumps(out))
"""

THEIRS = r"""
import asyncio, json, logging, statistics, sys, time
import dspy
logging.disable(logging.WARNING)
api_base, n, cache_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
msgs = [{"role": "user", "content": "What is the capital of France? " * 20}]
def stats(samples):
    samples.sort()
    return {"median_us": statistics.median(samples) * 1e6, "p90_us": samples[int(len(samples) * 0.9)] * 1e6}
out = {}
for level in ("memory", "disk"):
    dspy.configure_cache(enable_disk_cache=True, enable_memory_cache=(level == "memory"),
                         disk_cache_dir=f"{cache_dir}/{level}")
    lm = dspy.LM("openai/mock", api_base=api_base, api_key="x")
    lm(messages=msgs)
    samples = []
    for _ in range(n):
        t = time.perf_counter(); lm(messages=msgs); samples.append(time.perf_counter() - t)
    out[f"{level}_sync"] = stats(samples)
    async def run():
        await lm.acall(messages=msgs)
        samples = []
        for _ in range(n):
            t = time.perf_counter(); await lm.acall(messages=msgs); samples.append(time.perf_counter() - t)
        return samples
    out[f"{level}_acall"] = stats(asyncio.run(run()))
print(json.dumps(out))
"""


def run_side(python: str, code: str, api_base: str, n: int) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="cache-bench-") as tmp:
        result = subprocess.run(
            [python, "-c", code, api_base, str(n), tmp],
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
            cwd=ROOT,
            env={"DSPY_ASH_HOME": tmp, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PATH": "/usr/bin:/bin"},
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--dspy-python", default=str(ROOT / "bench-venvs/dspy/bin/python"))
    parser.add_argument("--skip-dspy", action="store_true")
    args = parser.parse_args()
    proc, api_base = start_mocklm(0)
    try:
        ours = run_side(sys.executable, OURS, api_base, args.n)
        theirs = (
            {}
            if args.skip_dspy or not Path(args.dspy_python).exists()
            else run_side(args.dspy_python, THEIRS, api_base, args.n)
        )
    finally:
        proc.terminate()
        proc.wait()
    print(json.dumps({"dspy_ash": ours, "dspy": theirs}))
    print()
    print("| hit | dspy-ash median µs (p90) | dspy 3.4.1 median µs (p90) | ratio |")
    print("|---|---|---|---|")
    for key in ("memory_sync", "memory_acall", "disk_sync", "disk_acall"):
        a = ours[key]
        b = theirs.get(key)
        other = f"{b['median_us']:.0f} ({b['p90_us']:.0f})" if b else "n/a"
        ratio = f"{b['median_us'] / a['median_us']:.1f}× faster" if b else ""
        print(f"| {key.replace('_', ' ')} | {a['median_us']:.0f} ({a['p90_us']:.0f}) | {other} | {ratio} |")


if __name__ == "__main__":
    main()
