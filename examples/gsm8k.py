"""GSM8K with ChainOfThought: evaluate, compile with BootstrapFewShot, evaluate again.

    python examples/gsm8k.py                                     # offline, against a local mock LM
    python examples/gsm8k.py --model openai/gpt-4o-mini          # a real model (OPENAI_API_KEY)
    python examples/gsm8k.py --model openai/llama3 --api-base http://localhost:8000/v1 --api-key x

Without `--model` the script serves a simulated model on 127.0.0.1 with dspy-ash's fake
OpenAI-compatible server: it knows the true answers of 60% of the questions, so everything runs
offline; it ignores demos, so the score does not move there. With a real model the compiled program usually
scores higher. `--checkpoint DIR` makes the compile resumable if it is interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path
from typing import Any

import dspy_ash as dspy

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


def simulated_solver(examples: list[Any]) -> Any:
    """A stand-in model that knows the answers to 3 questions in 5 and guesses 0 for the rest."""
    known = {e.question: e.answer for i, e in enumerate(examples) if i % 5 < 3}

    def reply(body: dict[str, Any]) -> str:
        prompt = body["messages"][-1]["content"]
        match = re.search(r"\[\[ ## question ## \]\]\n(.*?)\n\nRespond with", prompt, re.S)
        answer = known.get(match.group(1).strip() if match else "", "0")
        return (
            f"[[ ## reasoning ## ]]\nLet me work it out.\n\n[[ ## answer ## ]]\n{answer}\n\n"
            "[[ ## completed ## ]]"
        )

    return reply


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="e.g. openai/gpt-4o-mini; default: a local mock server")
    parser.add_argument("--api-base")
    parser.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY"))
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
        from dspy_ash.testing.fake_servers import FakeOpenAIServer

        mock = FakeOpenAIServer(handler=simulated_solver(trainset + devset))
        mock.__enter__()
        lm = dspy.LM("openai/simulated-solver", api_base=mock.api_base, api_key="local")
    else:
        lm = dspy.LM(args.model, api_base=args.api_base, api_key=args.api_key)
    try:
        dspy.configure(lm=lm)
        program = dspy.ChainOfThought("question -> answer")
        evaluate = dspy.Evaluate(
            devset=devset, metric=gsm8k_metric, num_threads=args.threads, display_progress=True
        )
        before = evaluate(program)
        print(f"zero-shot ChainOfThought: {before.score}%  ({before.lm_calls} LM calls, ${before.cost:.4f})")

        optimizer = dspy.BootstrapFewShot(
            metric=gsm8k_metric,
            max_bootstrapped_demos=args.max_bootstrapped_demos,
            max_labeled_demos=args.max_labeled_demos,
            num_threads=args.threads,
            checkpoint=args.checkpoint,
        )
        compiled = optimizer.compile(program, trainset=trainset)
        print(
            f"compiled with {len(compiled.predict.demos)} demos "
            f"({sum(1 for d in compiled.predict.demos if d.get('augmented'))} bootstrapped)"
        )

        after = evaluate(compiled)
        print(f"compiled ChainOfThought:  {after.score}%  ({after.lm_calls} LM calls, ${after.cost:.4f})")
        print(f"score change: {after.score - before.score:+.2f} points")
        if args.save:
            compiled.save(args.save)
    finally:
        if mock is not None:
            mock.__exit__(None, None, None)


if __name__ == "__main__":
    main()
