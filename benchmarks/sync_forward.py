"""Programs written with a sync `forward`, evaluated concurrently: dspy-ash and dspy 3.4.1 side by side.

    python benchmarks/sync_forward.py [--latency-ms 100] [--block-s 0.25] [--blocking 8:8,64:32]
                                      [--pure 16:64,64:256,256:1024,1024:2048]
                                      [--ash-src LABEL=PATH ...] [--dspy-python bench-venvs/dspy/bin/python]

Two shapes of user program, both run by `Evaluate(num_threads=C)` with a plain sync metric:

- blocking: `forward` blocks outside any LM call (`time.sleep(block_s)`, standing for a `requests`
  retriever or a database client), then calls `self.predict(question=...)`. `C:N` = C in flight, N
  examples. Ideal wall time: ceil(N / C) x (block + latency).
- pure LM: `forward` only calls `self.predict(question=...)`, DSPy's typical module. Figure: examples/s.

Every side runs in its own interpreter against the same referee server /work/shared/tools/mocklm.py
(started here), one after the other in the same invocation, caches off. `--ash-src LABEL=PATH` runs
dspy-ash from another source tree as well (e.g. an older checkout), to compare bridges in one run;
by default only this checkout's. This file is also each side's driver (`--side`), so it imports
neither library at module level.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MOCKLM = Path("/work/shared/tools/mocklm.py")


def start_mocklm(latency_ms: float) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, str(MOCKLM), "--port", str(port), "--latency-ms", str(latency_ms)],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # "mocklm listening on ..."
    return proc, f"http://127.0.0.1:{port}/v1"


def measure(
    lib: Any, api_base: str, block_s: float, blocking: list[tuple[int, int]], pure: list[tuple[int, int]]
):
    """The same cases for either library (`lib` is `dspy` or `dspy_ash`)."""

    class BlockingRAG(lib.Module):
        def __init__(self):
            super().__init__()
            self.predict = lib.Predict("question -> answer")

        def forward(self, question):
            time.sleep(block_s)  # a blocking retriever
            return self.predict(question=question)

    class PureLM(lib.Module):
        def __init__(self):
            super().__init__()
            self.predict = lib.Predict("question -> answer")

        def forward(self, question):
            return self.predict(question=question)

    def metric(example, prediction, trace=None):
        return prediction.answer == "unknown"  # what mocklm answers without --qa

    lm = lib.LM("openai/mock", api_base=api_base, api_key="x", cache=False)
    lib.configure(lm=lm)
    lm(messages=[{"role": "user", "content": "warm-up"}])
    out: dict[str, Any] = {}

    def evaluate(program: Any, tag: str, threads: int, n: int) -> tuple[float, float]:
        devset = [lib.Example(question=f"{tag} {i}").with_inputs("question") for i in range(n)]
        start = time.perf_counter()
        result = lib.Evaluate(devset=devset, metric=metric, num_threads=threads, display_progress=False)(
            program
        )
        return time.perf_counter() - start, float(result.score)

    for threads, n in blocking:
        wall, score = evaluate(BlockingRAG(), f"b{threads}x{n}", threads, n)
        out[f"blocking {threads}:{n}"] = {"wall_s": round(wall, 3), "score": score}
    for threads, n in pure:
        wall, score = evaluate(PureLM(), f"p{threads}x{n}", threads, n)
        out[f"pure {threads}:{n}"] = {
            "ex_per_s": round(n / wall, 1),
            "wall_s": round(wall, 3),
            "score": score,
        }
    return out


def side_main(args: argparse.Namespace) -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)
    if args.side == "dspy":
        import dspy as lib
    else:
        import dspy_ash as lib
    print(json.dumps(measure(lib, args.api_base, args.block_s, parse(args.blocking), parse(args.pure))))


def parse(spec: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in (item.split(":") for item in spec.split(",") if item)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--block-s", type=float, default=0.25)
    parser.add_argument("--blocking", default="8:8,64:32", help="C:N pairs, comma-separated")
    parser.add_argument(
        "--pure", default="16:64,64:256,256:1024,1024:2048", help="C:N pairs, comma-separated"
    )
    parser.add_argument("--ash-src", action="append", default=[], help="LABEL=PATH of another src/ tree")
    parser.add_argument("--dspy-python", default=str(ROOT / "bench-venvs/dspy/bin/python"))
    parser.add_argument("--skip-dspy", action="store_true")
    parser.add_argument("--side", choices=["ash", "dspy"], help=argparse.SUPPRESS)
    parser.add_argument("--api-base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        side_main(args)
        return
    sides: list[tuple[str, str, str, str]] = [("dspy-ash", "ash", sys.executable, str(ROOT / "src"))]
    for spec in args.ash_src:
        label, path = spec.split("=", 1)
        sides.append((f"dspy-ash {label}", "ash", sys.executable, str(Path(path).resolve())))
    if not args.skip_dspy and Path(args.dspy_python).exists():
        sides.append(("dspy 3.4.1", "dspy", args.dspy_python, ""))
    proc, api_base = start_mocklm(args.latency_ms)
    results: dict[str, dict[str, Any]] = {}
    try:
        for label, side, python, src in sides:
            with tempfile.TemporaryDirectory(prefix="sync-forward-bench-") as cache_dir:
                env = {
                    **os.environ,
                    "PYTHONPATH": src,
                    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                    "DSPY_CACHEDIR": cache_dir,
                }
                cmd = [
                    python,
                    __file__,
                    "--side",
                    side,
                    "--api-base",
                    api_base,
                    "--block-s",
                    str(args.block_s),
                ]
                cmd += ["--blocking", args.blocking, "--pure", args.pure]
                done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True, timeout=1800)
            results[label] = json.loads(done.stdout.strip().splitlines()[-1])
            print(label, json.dumps(results[label]), flush=True)
    finally:
        proc.terminate()
        proc.wait()
    labels = list(results)
    print()
    print(
        f"latency {args.latency_ms:g} ms, blocking forward {args.block_s:g} s; wall time (s), lower is better"
    )
    print("| case | ideal | " + " | ".join(labels) + " |")
    print("|---" * (len(labels) + 2) + "|")
    latency = args.latency_ms / 1000
    for threads, n in parse(args.blocking):
        key = f"blocking {threads}:{n}"
        ideal = -(-n // threads) * (args.block_s + latency)
        cells = " | ".join(f"{results[label][key]['wall_s']:.2f}" for label in labels)
        print(f"| {key} | {ideal:.2f} | {cells} |")
    print()
    print("pure-LM sync forward, examples/s, higher is better")
    print("| case | ideal | " + " | ".join(labels) + " |")
    print("|---" * (len(labels) + 2) + "|")
    for threads, n in parse(args.pure):
        key = f"pure {threads}:{n}"
        cells = " | ".join(f"{results[label][key]['ex_per_s']:,.0f}" for label in labels)
        print(f"| {key} | {threads / latency:,.0f} | {cells} |")


if __name__ == "__main__":
    main()
