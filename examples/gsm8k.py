"""GSM8K with ChainOfThought: evaluate, compile with BootstrapFewShot, evaluate again.

    python examples/gsm8k.py                                     # offline, against a local mock LM
    python examples/gsm8k.py --model openai/gpt-4o-mini          # a real model (OPENAI_API_KEY)
    python examples/gsm8k.py --model openai/llama3 --api-base http://localhost:8000/v1 --api-key x

Without `--model` the script starts /work/shared/tools/mocklm.py (or `--mock-server PATH`) on
127.0.0.1, told the true answers of 60% of the questions, so everything runs offline; the mock
ignores demos, so the score does not move there. With a real model the compiled program usually
scores higher. `--checkpoint DIR` makes the compile resumable if it is interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import dspy_ash as dspy

DATA = Path(dspy.__file__).parent / "data"
DEFAULT_MOCK = Path("/work/shared/tools/mocklm.py")


def load(name: str, n: int) -> list[Any]:
    examples = []
    with (DATA / name).open(encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            answer = record["answer"].split("####")[-1].strip().replace(",", "")
            examples.append(dspy.Example(question=record["question"], answer=answer).with_inputs("question"))
            if len(examples) == n:
                break
    return examples


def parse_number(text: str) -> str | None:
    numbers = re.findall(r"-?\d[\d,]*\.?\d*", str(text))
    return numbers[-1].replace(",", "").rstrip(".") if numbers else None


def gsm8k_metric(example: Any, pred: Any, trace: Any = None) -> bool:
    """The last number in the predicted answer equals the gold answer (DSPy's GSM8K metric)."""
    return parse_number(pred.answer) == example.answer


def start_mock(server: Path, examples: list[Any]) -> tuple[subprocess.Popen[bytes], str]:
    known = [{"question": e.question, "answer": e.answer} for i, e in enumerate(examples) if i % 5 < 3]
    qa = Path(tempfile.mkdtemp()) / "gsm8k_qa.json"
    qa.write_text(json.dumps(known))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(server), "--port", str(port), "--latency-ms", "20", "--qa", str(qa)],
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()
    return proc, f"http://127.0.0.1:{port}/v1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="e.g. openai/gpt-4o-mini; default: a local mock server")
    parser.add_argument("--api-base")
    parser.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY"))
    parser.add_argument("--mock-server", type=Path, default=DEFAULT_MOCK)
    parser.add_argument("--train", type=int, default=50)
    parser.add_argument("--dev", type=int, default=100)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--max-bootstrapped-demos", type=int, default=4)
    parser.add_argument("--max-labeled-demos", type=int, default=4)
    parser.add_argument("--checkpoint", help="directory for a resumable compile")
    parser.add_argument("--save", help="write the compiled program's state here (DSPy's JSON format)")
    args = parser.parse_args()

    trainset = load("gsm8k_train_first1000.jsonl", args.train)
    devset = load("gsm8k_test.jsonl", args.dev)
    mock = None
    if args.model is None:
        if not args.mock_server.exists():
            parser.error(f"no --model given and no mock server at {args.mock_server}")
        mock, api_base = start_mock(args.mock_server, trainset + devset)
        lm = dspy.LM("openai/mock", api_base=api_base, api_key="x")
    else:
        lm = dspy.LM(args.model, api_base=args.api_base, api_key=args.api_key)
    try:
        dspy.configure(lm=lm)
        program = dspy.ChainOfThought("question -> answer")
        evaluate = dspy.Evaluate(devset=devset, metric=gsm8k_metric, num_threads=args.threads, display_progress=True)
        before = evaluate(program)
        print(f"zero-shot ChainOfThought: {before.score}%  ({before.lm_calls} LM calls, ${before.cost:.4f})")

        optimizer = dspy.BootstrapFewShot(metric=gsm8k_metric, max_bootstrapped_demos=args.max_bootstrapped_demos,
                                          max_labeled_demos=args.max_labeled_demos, num_threads=args.threads,
                                          checkpoint=args.checkpoint)
        compiled = optimizer.compile(program, trainset=trainset)
        print(f"compiled with {len(compiled.predict.demos)} demos "
              f"({sum(1 for d in compiled.predict.demos if d.get('augmented'))} bootstrapped)")

        after = evaluate(compiled)
        print(f"compiled ChainOfThought:  {after.score}%  ({after.lm_calls} LM calls, ${after.cost:.4f})")
        print(f"score change: {after.score - before.score:+.2f} points")
        if args.save:
            compiled.save(args.save)
    finally:
        if mock is not None:
            mock.terminate()
            mock.wait()


if __name__ == "__main__":
    main()
