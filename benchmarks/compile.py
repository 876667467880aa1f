"""Compile wall time: BootstrapFewShot (100 training examples), MIPROv2 light and GEPA light, dspy-ash vs dspy 3.4.1.

    python benchmarks/compile.py [--latency-ms 100] [--threads 32] [--only bootstrap|mipro|gepa]
                                 [--ash-src LABEL=PATH ...] [--dspy-python bench-venvs/dspy/bin/python]
                                 [--skip-dspy]

Both sides compile `Predict("question -> answer")` against the referee server
/work/shared/tools/mocklm.py (started here) with caches off. The server knows the answer to every
fifth question (`--qa`), so the teacher fails 80% of the time and bootstrapping has to walk the
training set, as it does on a hard task:

- BootstrapFewShot(metric=answer_exact_match, max_bootstrapped_demos=16, max_labeled_demos=16) on 100
  examples, DSPy's code as written (no dspy-ash argument: the default concurrency). The demos each
  side selected are compared: they must be identical.
- MIPROv2(auto="light", num_threads=--threads) on the same 100 examples (valset split by MIPROv2).
- GEPA(auto="light", num_threads=--threads) reflecting on the first 80 examples, Pareto scores on the last
  20, the reflection LM on the same server; its InstructionProposer uses ChatAdapter, whose field markers
  the server answers (it cannot answer JSONAdapter's prompt). The candidates' instructions and the
  metric calls spent are compared: they must be identical.

DSPy runs in its own interpreter (benchmarks/setup_dspy_venv.sh; `--dspy-python .venv/bin/python`
uses the DSPy of the test extra); this file is also its driver. `--ash-src LABEL=PATH` adds a side
that runs another dspy-ash src/ tree (a before/after comparison in one invocation).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
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
N_TRAIN = 100


def questions() -> list[dict[str, str]]:
    return [{"question": f"What is the code word number {i}?", "answer": f"word{i}"} for i in range(N_TRAIN)]


def qa_file() -> str:
    path = Path(tempfile.mkdtemp()) / "qa.json"
    path.write_text(json.dumps([q for i, q in enumerate(questions()) if i % 5 == 0]))
    return str(path)


def start_mocklm(latency_ms: float) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            str(MOCKLM),
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
            "--qa",
            qa_file(),
        ],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    return proc, f"http://127.0.0.1:{port}/v1"


def measure(dspy: Any, api_base: str, which: str, threads: int) -> dict[str, Any]:
    """The same code drives both libraries: `dspy` is either `dspy` or `dspy_ash`."""
    logging.disable(logging.WARNING)
    lm = dspy.LM("openai/mock", api_base=api_base, api_key="x", cache=False)
    dspy.configure(lm=lm)
    trainset = [dspy.Example(**q).with_inputs("question") for q in questions()]
    metric = importlib.import_module(f"{dspy.__name__}.evaluate").answer_exact_match
    dspy.Predict("question -> answer")(question="warm-up")
    start = time.perf_counter()
    if which == "bootstrap":
        optimizer = dspy.BootstrapFewShot(metric=metric, max_bootstrapped_demos=16, max_labeled_demos=16)
        program = optimizer.compile(dspy.Predict("question -> answer"), trainset=trainset)
    elif which == "mipro":
        optimizer = dspy.MIPROv2(metric=metric, auto="light", num_threads=threads)
        program = optimizer.compile(dspy.Predict("question -> answer"), trainset=trainset)
    else:
        program = gepa(dspy, api_base, metric, trainset, threads)
    seconds = time.perf_counter() - start
    state = program.dump_state()
    state = state.get("self", state)
    details = getattr(program, "detailed_results", None)
    return {
        "seconds": seconds,
        "demos": state["demos"],
        "instructions": state["signature"]["instructions"],
        "score": getattr(program, "score", None),
        "candidates": None
        if details is None
        else [
            [c.signature.instructions, s]
            for c, s in zip(details.candidates, details.val_aggregate_scores, strict=True)
        ],
        "metric_calls": None if details is None else details.total_metric_calls,
    }


def gepa(dspy: Any, api_base: str, metric: Any, trainset: list[Any], threads: int) -> Any:
    def feedback_metric(
        gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None
    ) -> Any:
        return metric(gold, pred)

    proposals = importlib.import_module(
        "dspy.teleprompt.gepa" if dspy.__name__ == "dspy" else "dspy_ash.optimizers.gepa"
    )
    optimizer = dspy.GEPA(
        metric=feedback_metric,
        auto="light",
        num_threads=threads,
        reflection_lm=dspy.LM("openai/mock-reflection", api_base=api_base, api_key="x", cache=False),
        instruction_proposer=proposals.InstructionProposer(adapter=dspy.ChatAdapter()),
        track_stats=True,
    )
    return optimizer.compile(dspy.Predict("question -> answer"), trainset=trainset[:80], valset=trainset[80:])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--only", choices=["bootstrap", "mipro", "gepa"])
    parser.add_argument("--ash-src", action="append", default=[], help="LABEL=PATH of another src/ tree")
    parser.add_argument("--dspy-python", default=str(ROOT / "bench-venvs/dspy/bin/python"))
    parser.add_argument("--skip-dspy", action="store_true")
    parser.add_argument("--side", choices=["dspy", "ours"], help=argparse.SUPPRESS)
    parser.add_argument("--api-base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        module = __import__("dspy" if args.side == "dspy" else "dspy_ash")
        print(json.dumps(measure(module, args.api_base, args.only, args.threads), default=str))
        return

    proc, api_base = start_mocklm(args.latency_ms)
    results: dict[str, dict[str, dict[str, Any]]] = {}
    try:
        for which in [args.only] if args.only else ["bootstrap", "mipro", "gepa"]:
            sides = [("dspy-ash", sys.executable, "ours", str(ROOT / "src"))]
            for spec in args.ash_src:
                label, path = spec.split("=", 1)
                sides.append((f"dspy-ash {label}", sys.executable, "ours", str(Path(path).resolve())))
            if not args.skip_dspy and Path(args.dspy_python).exists():
                sides.append(("dspy 3.4.1", args.dspy_python, "dspy", ""))
            for name, python, side, src in sides:  # each side in a fresh interpreter, one after the other
                out = subprocess.run(
                    [
                        python,
                        __file__,
                        "--side",
                        side,
                        "--api-base",
                        api_base,
                        "--only",
                        which,
                        "--threads",
                        str(args.threads),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, "PYTHONPATH": src},
                )
                results.setdefault(which, {})[name] = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        proc.terminate()
        proc.wait()
    print(
        f"Compile wall time, {N_TRAIN} training examples, {args.latency_ms:.0f} ms latency, "
        f"{args.threads} threads"
    )
    for which, sides in results.items():
        for name, r in sides.items():
            print(
                f"{which:<10} {name:<18} {r['seconds']:>8.2f} s  demos={len(r['demos'])}  score={r['score']}"
            )
        theirs = sides.get("dspy 3.4.1")
        for name, ours in sides.items():
            if theirs is not None and ours is not theirs:
                same = ours["demos"] == theirs["demos"]
                extra = ""
                if which == "gepa":
                    same_candidates = (ours["candidates"], ours["metric_calls"]) == (
                        theirs["candidates"],
                        theirs["metric_calls"],
                    )
                    extra = f"; same candidates and metric calls ({ours['metric_calls']}): {same_candidates}"
                print(
                    f"{which:<10} {name}: speed-up {theirs['seconds'] / ours['seconds']:.1f}x; "
                    f"same demos selected: {same}{extra}"
                )


if __name__ == "__main__":
    main()
