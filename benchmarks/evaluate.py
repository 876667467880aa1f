"""Evaluate throughput at 100 ms LM latency, dspy-ash and dspy 3.4.1 side by side in one invocation.

    python benchmarks/evaluate.py [--examples 2000] [--latency-ms 100] [--threads 1024]
                                  [--dspy-python bench-venvs/dspy/bin/python] [--skip-dspy]

The referee server /work/shared/tools/mocklm.py is started here (with `--qa`, so 70% of the questions
get their true answer and the score is meaningful). Each side evaluates `Predict("question -> answer")`
with `answer_exact_match` over the same unique questions, caches off, `num_threads` in flight, after
one warm-up call. DSPy runs in its own interpreter (see benchmarks/setup_dspy_venv.sh); this file is
also its driver (`--side dspy`), so it must not import dspy_ash at module level.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MOCKLM = Path("/work/shared/tools/mocklm.py")


def questions(n: int) -> list[dict[str, str]]:
    return [
        {"question": f"What is item number {i} of the benchmark?", "answer": f"answer {i}"} for i in range(n)
    ]


def qa_file(n: int) -> str:
    known = [q for i, q in enumerate(questions(n)) if i % 10 < 7]
    path = Path(tempfile.mkdtemp()) / "qa.json"
    path.write_text(json.dumps(known))
    return str(path)


def start_mocklm(latency_ms: float, qa: str) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, str(MOCKLM), "--port", str(port), "--latency-ms", str(latency_ms), "--qa", qa],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # "mocklm listening on ..."
    return proc, f"http://127.0.0.1:{port}/v1"


def run_ours(api_base: str, n: int, threads: int) -> dict[str, Any]:
    import dspy_ash as dspy
    from dspy_ash.settings import enable_gc_pacing

    enable_gc_pacing()  # off for library users; the project's servers run with it (docs/lm.md)
    lm = dspy.LM("openai/mock", api_base=api_base, api_key="x", cache=False)
    dspy.configure(lm=lm)
    devset = [dspy.Example(**q).with_inputs("question") for q in questions(n)]
    program = dspy.Predict("question -> answer")

    async def main() -> dict[str, Any]:
        await program.acall(question="warm-up")
        evaluate = dspy.Evaluate(devset=devset, metric=dspy.evaluate.answer_exact_match, num_threads=threads)
        start = time.perf_counter()
        result = await evaluate.acall(program)
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "score": result.score, "failed": len(result.errors)}

    return asyncio.run(main())


def run_dspy(api_base: str, n: int, threads: int) -> dict[str, Any]:
    import logging

    import dspy

    logging.getLogger("dspy").setLevel(logging.ERROR)
    lm = dspy.LM("openai/mock", api_base=api_base, api_key="x", cache=False)
    dspy.configure(lm=lm)
    devset = [dspy.Example(**q).with_inputs("question") for q in questions(n)]
    program = dspy.Predict("question -> answer")
    program(question="warm-up")
    evaluate = dspy.Evaluate(devset=devset, metric=dspy.evaluate.answer_exact_match, num_threads=threads)
    start = time.perf_counter()
    result = evaluate(program)
    return {"seconds": time.perf_counter() - start, "score": result.score}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--threads", type=int, default=1024)
    parser.add_argument("--dspy-python", default=str(ROOT / "bench-venvs/dspy/bin/python"))
    parser.add_argument("--skip-dspy", action="store_true")
    parser.add_argument("--side", choices=["dspy"], help=argparse.SUPPRESS)
    parser.add_argument("--api-base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side == "dspy":
        print(json.dumps(run_dspy(args.api_base, args.examples, args.threads)))
        return

    proc, api_base = start_mocklm(args.latency_ms, qa_file(args.examples))
    try:
        rows: list[tuple[str, dict[str, Any]]] = [
            ("dspy-ash", run_ours(api_base, args.examples, args.threads))
        ]
        if not args.skip_dspy and Path(args.dspy_python).exists():
            out = subprocess.run(
                [
                    args.dspy_python,
                    __file__,
                    "--side",
                    "dspy",
                    "--api-base",
                    api_base,
                    "--examples",
                    str(args.examples),
                    "--threads",
                    str(args.threads),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            rows.append(("dspy 3.4.1", json.loads(out.stdout.strip().splitlines()[-1])))
    finally:
        proc.terminate()
        proc.wait()
    print(f"Evaluate: {args.examples} examples, {args.latency_ms:.0f} ms latency, {args.threads} in flight")
    print(f"{'system':<12} {'seconds':>8} {'examples/s':>11} {'score':>7}")
    for name, r in rows:
        print(f"{name:<12} {r['seconds']:>8.2f} {args.examples / r['seconds']:>11.0f} {r['score']:>7}")
    if len(rows) == 2:
        print(f"speed-up: {rows[1][1]['seconds'] / rows[0][1]['seconds']:.1f}x")


if __name__ == "__main__":
    main()
