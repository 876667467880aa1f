"""What a sync call costs in the bridge (`dspy_ash._sync`), in µs per call, with a zero-latency LM.

    python benchmarks/sync_bridge_cost.py [--n 3000] [--runs 7]

- `run_sync` of a coroutine that returns at once, with no running loop: the `_drive` fast path
  against `run_until_complete` (the fallback outside the checked Python versions), alternating runs.
- A sync `Predict` call with no loop, and the same call made inside a running loop (handed to a
  worker thread's loop while the caller waits).
Run it with `PYTHONPATH=<other src>` to measure another source tree; the `_drive` rows need a tree
that has `_sync._FAST_DRIVE`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any


def per_call(fn: Callable[[], Any], n: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    import dspy_ash as dspy
    from dspy_ash import _sync
    from dspy_ash.lm._types import Choice, LMResponse

    class ZeroLM(dspy.BaseLM):
        def __init__(self) -> None:
            super().__init__("openai/zero", cache=False)

        async def request(self, req: Any) -> LMResponse:
            return LMResponse(choices=[Choice(text="[[ ## answer ## ]]\n42\n\n[[ ## completed ## ]]")])

    async def nothing() -> int:
        return 1

    dspy.configure(lm=ZeroLM())
    predict = dspy.Predict("question -> answer")
    rows: dict[str, list[float]] = {}
    gate = getattr(_sync, "_FAST_DRIVE", None)
    for _ in range(args.runs):
        if gate is not None:
            for fast in (True, False):
                _sync._FAST_DRIVE = fast  # pyright: ignore[reportPrivateUsage]
                label = "run_sync, no loop: _drive" if fast else "run_sync, no loop: run_until_complete"
                rows.setdefault(label, []).append(per_call(lambda: _sync.run_sync(nothing()), args.n))
            _sync._FAST_DRIVE = gate  # pyright: ignore[reportPrivateUsage]
        rows.setdefault("sync Predict, no loop", []).append(
            per_call(lambda: predict(question="q"), args.n // 3)
        )

        async def inside() -> float:
            return per_call(lambda: predict(question="q"), args.n // 3)

        rows.setdefault("sync Predict inside a running loop", []).append(asyncio.run(inside()))
    print(f"{dspy.__file__}: µs per call, median of {args.runs} runs")
    for label, values in rows.items():
        print(f"{label:<42}{statistics.median(values):>8.1f}")


if __name__ == "__main__":
    main()
