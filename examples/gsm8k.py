"""GSM8K with ChainOfThought (or ProgramOfThought): evaluate, compile with BootstrapFewShot, evaluate again.

    python examples/gsm8k.py                                     # offline, a local stand-in model
    python examples/gsm8k.py --module pot                        # ProgramOfThought: code run in the sandbox
    python examples/gsm8k.py --model openai/gpt-4o-mini          # a real model (OPENAI_API_KEY)
    python examples/gsm8k.py --model openai/llama3 --api-base http://localhost:8000/v1 --api-key x

Without `--model` the LM is an offline stand-in, not a real LM: `dspy_ash.testing.standins.ArithmeticSolver`
served on 127.0.0.1 by dspy-ash's fake OpenAI-compatible server. It answers from the prompt alone (it
never sees the dataset): it reads the numbers and operation words of the question and combines them.
With no demos it applies the operation words in order; with demos in its prompt it uses whichever of
its few ways of combining numbers reproduces the most demo answers from their questions, so the demos
BootstrapFewShot picks can move its score, up or down. It solves few GSM8K problems; a real model is
needed to see what optimization buys. With `--module pot` it writes those steps as Python instead, which
ProgramOfThought runs in its sandbox, and answers with what the code computed. `--checkpoint DIR` makes
the compile resumable if it is interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dspy_ash as dspy
from dspy_ash.testing.standins import ArithmeticSolver, lm_or_stand_in

DATA = Path(dspy.__file__).parent / "data"


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


@dataclass
class Outcome:
    """What a run produced, for a caller (the tests) to check."""

    uncompiled: Any
    compiled: Any
    reloaded: Any  # None unless --save
    before: Any  # EvaluationResult
    after: Any
    devset: list[Any]


def report(label: str, result: Any) -> None:
    """Total, correct, accuracy, and three predictions (the first correct one, if any, and wrong ones)."""
    correct = sum(1 for _, _, score in result.results if score)
    print(
        f"{label}: {correct} of {len(result.results)} correct, {result.score}% "
        f"({result.lm_calls} LM calls, ${result.cost:.4f})"
    )
    right = [r for r in result.results if r[2]][:1]  # show a correct one when there is one
    for example, prediction, score in right + [r for r in result.results if not r[2]][: 3 - len(right)]:
        print(f"  Q: {' '.join(example.question.split())[:110]}")
        print(f"     gold: {example.answer!r}  predicted: {prediction.answer!r}  correct: {bool(score)}")


def run(args: argparse.Namespace) -> Outcome:
    trainset = load("gsm8k_train_first1000.jsonl", args.train)
    devset = load("gsm8k_test.jsonl", args.dev)
    with lm_or_stand_in(args.model, ArithmeticSolver(), api_base=args.api_base, api_key=args.api_key) as lm:
        dspy.configure(lm=lm)
        program = _module(args.module)
        evaluate = dspy.Evaluate(
            devset=devset, metric=gsm8k_metric, num_threads=args.threads, display_progress=True
        )
        before = evaluate(program)
        name = type(program).__name__
        report(f"zero-shot {name}", before)

        optimizer = dspy.BootstrapFewShot(
            metric=gsm8k_metric,
            max_bootstrapped_demos=args.max_bootstrapped_demos,
            max_labeled_demos=args.max_labeled_demos,
            num_threads=args.threads,
            checkpoint=args.checkpoint,
        )
        compiled = optimizer.compile(program, trainset=trainset)
        demos = [d for _, predictor in compiled.named_predictors() for d in predictor.demos]
        print(
            f"compiled with {len(demos)} demos ({sum(1 for d in demos if d.get('augmented'))} bootstrapped)"
        )

        after = evaluate(compiled)
        report(f"compiled {name}", after)
        print(f"score change: {after.score - before.score:+.2f} points")
        reloaded = None
        if args.save:
            compiled.save(args.save)
            reloaded = _module(args.module)
            reloaded.load(args.save)
            print(f"saved to {args.save} (DSPy's JSON format) and loaded back into a fresh program")
        return Outcome(program, compiled, reloaded, before, after, devset)


def _module(kind: str) -> Any:
    if kind == "pot":
        return dspy.ProgramOfThought("question -> answer")
    return dspy.ChainOfThought("question -> answer")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="e.g. openai/gpt-4o-mini; default: a local stand-in model")
    parser.add_argument("--api-base")
    parser.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY"))
    parser.add_argument(
        "--module", choices=["cot", "pot"], default="cot", help="ChainOfThought or ProgramOfThought"
    )
    parser.add_argument("--train", type=int, default=50)
    parser.add_argument("--dev", type=int, default=100)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--max-bootstrapped-demos", type=int, default=4)
    parser.add_argument("--max-labeled-demos", type=int, default=4)
    parser.add_argument("--checkpoint", help="directory for a resumable compile")
    parser.add_argument("--save", help="write the compiled program's state here (DSPy's JSON format)")
    return parser.parse_args(argv)


def main() -> None:
    run(parse_args())


if __name__ == "__main__":
    main()
