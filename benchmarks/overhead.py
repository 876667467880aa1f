"""Per-call framework overhead of Predict and ChainOfThought with a zero-latency in-process LM,
`Predict` driven by DSPy's own `DummyLM` (`from dspy.utils.dummies import DummyLM`, as DSPy's tests and
users' tests write it; under dspy-ash that import resolves through `install_as_dspy()`), and the cost of
parsing a string signature: dspy-ash and dspy 3.4.1 side by side in one run.

    python benchmarks/overhead.py [--n 2000] [--runs 5] [--dspy-python bench-venvs/dspy/bin/python]

`--dummy-calls N --side ash|dspy` only makes N DummyLM-driven `Predict` calls (after 200 warm-up calls) and
prints nothing: run under `valgrind --tool=callgrind` with N=0 and N=1000, the difference of the two
instruction counts / 1000 is the instructions one call costs, a figure the machine's load cannot move.

Each side runs in its own interpreter (DSPy from its own virtual environment when one exists, see
benchmarks/setup_dspy_venv.sh), one after the other, on the same machine in the same invocation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPLY_PREDICT = "[[ ## answer ## ]]\n42\n\n[[ ## completed ## ]]"
REPLY_COT = "[[ ## reasoning ## ]]\nBecause.\n\n[[ ## answer ## ]]\n42\n\n[[ ## completed ## ]]"


def _time_calls(call, n: int, runs: int) -> dict[str, float]:
    call(-1)  # warm-up
    per_run = []
    for r in range(runs):
        start = time.perf_counter()
        for i in range(n):
            call(r * n + i)
        per_run.append((time.perf_counter() - start) / n * 1e6)
    return {"median_us": round(statistics.median(per_run), 1), "min_us": round(min(per_run), 1)}


async def _time_async_calls(predict, n: int, runs: int) -> dict[str, float]:
    """Sequential `await predict.acall(...)` calls (the context's LM answers)."""
    await predict.acall(question="warm")
    per_run = []
    for r in range(runs):
        start = time.perf_counter()
        for i in range(n):
            await predict.acall(question=f"q{r}-{i}")
        per_run.append((time.perf_counter() - start) / n * 1e6)
    return {"median_us": round(statistics.median(per_run), 1), "min_us": round(min(per_run), 1)}


def _measure(lib, zero_lm, n: int, runs: int) -> dict[str, dict[str, float]]:
    """The same cases for either library; `zero_lm(reply)` builds its instant LM. `lib` is `dspy` on both
    sides (dspy-ash's through `install_as_dspy()`), so the DummyLM case is DSPy's code as written."""
    import asyncio

    from dspy.utils.dummies import DummyLM

    results = {}
    predict = lib.Predict("question -> answer")
    with lib.context(lm=zero_lm(REPLY_PREDICT)):
        results["Predict"] = _time_calls(lambda i: predict(question=f"q{i}"), n, runs)
    with lib.context(lm=DummyLM([{"answer": "42"}] * (n * runs + 1))):
        results["Predict (DummyLM)"] = _time_calls(lambda i: predict(question=f"q{i}"), n, runs)
    cot = lib.ChainOfThought("question -> answer")
    with lib.context(lm=zero_lm(REPLY_COT)):
        results["ChainOfThought"] = _time_calls(lambda i: cot(question=f"q{i}"), n, runs)
    results["Signature(str)"] = _time_calls(
        lambda i: lib.Signature("question, context: list[str] -> answer: int, confidence: float"), n, runs
    )
    with lib.context(lm=zero_lm(REPLY_PREDICT)):
        results["await Predict.acall"] = asyncio.run(_time_async_calls(predict, n, runs))
    return results


def measure_ash(n: int, runs: int) -> dict[str, dict[str, float]]:
    from dspy_ash._compat import install_as_dspy

    install_as_dspy()  # `import dspy` (and `dspy.utils.dummies`) resolve to dspy-ash from here on
    import dspy

    from dspy_ash.lm._types import Choice, LMResponse

    class ZeroLM(dspy.BaseLM):
        """Answers instantly: what is left is the framework's own cost."""

        def __init__(self, reply: str):
            super().__init__("openai/zero", cache=False)
            self.reply = reply

        async def request(self, req):
            return LMResponse(choices=[Choice(text=self.reply)])

    return _measure(dspy, ZeroLM, n, runs)


def measure_dspy(n: int, runs: int) -> dict[str, dict[str, float]]:
    import warnings

    warnings.filterwarnings("ignore")
    import dspy
    from dspy.lm15 import Message, Response, TextPart, Usage

    class ZeroEngine:
        def __init__(self, reply: str):
            self.reply = reply

        def complete(self, request):
            return Response(
                id=None,
                model="zero",
                message=Message.assistant([TextPart(self.reply)]),
                finish_reason="stop",
                usage=Usage(input_tokens=0, output_tokens=0, total_tokens=0),
            )

    class AsyncZeroEngine:
        def __init__(self, sync):
            self.sync = sync

        async def complete(self, request):
            return self.sync.complete(request)

    def zero_lm(reply: str):
        engine = ZeroEngine(reply)
        return dspy.LM("openai/zero", engine=engine, async_engine=AsyncZeroEngine(engine), cache=False)

    return _measure(dspy, zero_lm, n, runs)


def dummy_calls(side: str, n: int) -> None:
    if side == "ash":
        from dspy_ash._compat import install_as_dspy

        install_as_dspy()
    import dspy
    from dspy.utils.dummies import DummyLM

    predict = dspy.Predict("question -> answer")
    with dspy.context(lm=DummyLM([{"answer": "42"}] * (n + 200))):
        for i in range(200 + n):
            predict(question=f"q{i}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dspy-python", default=None)
    parser.add_argument("--side", choices=["ash", "dspy"], help=argparse.SUPPRESS)
    parser.add_argument("--dummy-calls", type=int, default=None)
    args = parser.parse_args()
    if args.dummy_calls is not None:
        dummy_calls(args.side or "ash", args.dummy_calls)
        return
    if args.side:
        fn = measure_ash if args.side == "ash" else measure_dspy
        print(json.dumps(fn(args.n, args.runs)))
        return
    root = Path(__file__).resolve().parents[1]
    dspy_python = args.dspy_python or str(root / "bench-venvs" / "dspy" / "bin" / "python")
    has_dspy = (
        os.path.exists(dspy_python)
        and subprocess.run([dspy_python, "-c", "import dspy"], capture_output=True).returncode == 0
    )
    if not has_dspy:
        dspy_python = sys.executable  # the test extra installs dspy here too
    sides = {}
    for side, python in (("dspy-ash", sys.executable), ("dspy 3.4.1", dspy_python)):
        flag = "ash" if side == "dspy-ash" else "dspy"
        # dspy-ash keeps the caller's PYTHONPATH (`PYTHONPATH=src` measures this tree, not an installed one)
        env = dict(os.environ) if flag == "ash" else {**os.environ, "PYTHONPATH": ""}
        out = subprocess.run(
            [python, __file__, "--side", flag, "--n", str(args.n), "--runs", str(args.runs)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        sides[side] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"per-call overhead, median of {args.runs} runs x {args.n} calls (µs; lower is better)")
    print(f"{'case':<24}{'dspy-ash':>12}{'dspy 3.4.1':>14}{'ratio':>10}")
    for case in sides["dspy-ash"]:
        ours, theirs = sides["dspy-ash"][case]["median_us"], sides["dspy 3.4.1"][case]["median_us"]
        print(f"{case:<24}{ours:>12.1f}{theirs:>14.1f}{theirs / ours:>9.1f}x")


if __name__ == "__main__":
    main()
