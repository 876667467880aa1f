"""A ReAct agent with two tools: `search` (BM25 over the shipped HotPotQA passages) and `calculate` (exact
arithmetic). It answers a mix of factoid and arithmetic questions, evaluated with exact match, and
shows one trajectory: each thought, the tool it chose with its arguments, and what the tool returned.

    python examples/react_agent.py                               # offline, a local stand-in model
    python examples/react_agent.py --model openai/gpt-4o-mini    # a real model (OPENAI_API_KEY)

Offline, the LM is `dspy_ash.testing.standins.ToolUser` served on 127.0.0.1: not a real LM. From the
prompt alone it sends a question holding an arithmetic expression to `calculate` and any other to
`search`, then finishes; the tools compute and retrieve, the agent only chooses.
"""

from __future__ import annotations

import argparse
import ast
import operator
from typing import Any

import dspy_ash as dspy
from dspy_ash.evaluate import answer_exact_match
from dspy_ash.retrievers import BM25Retriever, hotpotqa_corpus, hotpotqa_questions
from dspy_ash.testing.standins import ToolUser, lm_or_stand_in

_RETRIEVER = BM25Retriever(hotpotqa_corpus(), k=3)
_OPERATORS: dict[type, Any] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.USub: operator.neg, ast.UAdd: operator.pos,
}  # fmt: skip


def search(query: str) -> str:
    """Search Wikipedia paragraphs; returns the three that best match the query, one a line."""
    return "\n".join(passage.text for passage in _RETRIEVER(query))


def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression exactly (numbers, + - * / and brackets)."""

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
            return _OPERATORS[type(node.op)](value(node.operand))
        raise ValueError(f"not arithmetic: {ast.unparse(node)}")

    result = value(ast.parse(expression, mode="eval").body)
    return str(int(result)) if float(result).is_integer() else f"{result:.6g}"


ARITHMETIC = [("What is 1234 * 5678?", 1234 * 5678), ("How much is 12 * (3 + 4) - 5?", 12 * (3 + 4) - 5),
              ("What is 7.5 / 2.5 + 1?", 4), ("Compute 2 - 3 * 4.", 2 - 3 * 4),
              ("What is (100 + 250) / 7?", 50)]  # fmt: skip


def questions() -> list[Any]:
    factoid = [(q["question"], q["answer"]) for q in hotpotqa_questions()[20:30]]
    pairs = factoid + [(q, str(a)) for q, a in ARITHMETIC]
    return [dspy.Example(question=q, answer=a).with_inputs("question") for q, a in pairs]


def run(model: str | None = None, api_base: str | None = None, api_key: str | None = None) -> dict[str, Any]:
    with lm_or_stand_in(model, ToolUser(), api_base=api_base, api_key=api_key) as lm:
        dspy.configure(lm=lm)
        agent = dspy.ReAct("question -> answer", tools=[search, calculate], max_iters=4)
        devset = questions()
        result = dspy.Evaluate(devset=devset, metric=answer_exact_match, num_threads=8)(agent)
        correct = sum(1 for _, _, score in result.results if score)
        print(f"ReAct with search and calculate: {correct} of {len(devset)} correct ({result.score}%)")
        _, prediction, _ = result.results[-1]
        for key, value in prediction.trajectory.items():
            print(f"  {key}: {str(value)[:100]}")
        return {"result": result, "devset": devset}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="e.g. openai/gpt-4o-mini; omit to run offline")
    parser.add_argument("--api-base")
    parser.add_argument("--api-key")
    args = parser.parse_args()
    run(args.model, args.api_base, args.api_key)


if __name__ == "__main__":
    main()
