"""SimplifiedBaleen, the worked example's multi-hop program, as code: for each hop a search query from the
question and the context so far, three passages retrieved with BM25 over the shipped HotPotQA sample and
added to the context; then the answer with ChainOfThought. Evaluated, compiled with BootstrapFewShot
(max_bootstrapped_demos=3, max_labeled_demos=10), evaluated again.

`dspy-ash demo` serves the same program, created as data (a declarative spec) through the API.

    python examples/baleen.py                                # offline, a local stand-in model
    python examples/baleen.py --model openai/gpt-4o-mini     # a real model (OPENAI_API_KEY)

Offline, the LM is `dspy_ash.testing.standins.ExtractiveReader` served on 127.0.0.1: not a real LM; it
answers from the prompt alone (see examples/quickstart.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import dspy_ash as dspy
from dspy_ash.evaluate import answer_exact_match
from dspy_ash.retrievers import BM25Retriever, hotpotqa_corpus, hotpotqa_questions
from dspy_ash.testing.standins import ExtractiveReader, lm_or_stand_in

sys.path.insert(0, str(Path(__file__).parent))
from quickstart import report


class GenerateSearchQuery(dspy.Signature):
    """Write a simple search query that will help answer a complex question."""

    context: list[str] = dspy.InputField(desc="may contain relevant facts")
    question: str = dspy.InputField()
    query: str = dspy.OutputField()


class GenerateAnswer(dspy.Signature):
    """Answer questions with short factoid answers."""

    context: list[str] = dspy.InputField(desc="may contain relevant facts")
    question: str = dspy.InputField()
    answer: str = dspy.OutputField(desc="often between 1 and 5 words")
    confidence: float = dspy.OutputField(desc="between 0 and 1")


class SimplifiedBaleen(dspy.Module):
    def __init__(self, passages_per_hop: int = 3, max_hops: int = 2) -> None:
        self.generate_query = [dspy.ChainOfThought(GenerateSearchQuery) for _ in range(max_hops)]
        self.retrieve = dspy.Retrieve(k=passages_per_hop)
        self.generate_answer = dspy.ChainOfThought(GenerateAnswer)
        self.max_hops = max_hops

    def forward(self, question: str) -> dspy.Prediction:
        context: list[str] = []
        for hop in range(self.max_hops):
            query = self.generate_query[hop](context=context, question=question).query
            passages = self.retrieve(query).passages
            context = list(dict.fromkeys(context + passages))  # each passage once, in order
        prediction = self.generate_answer(context=context, question=question)
        return dspy.Prediction(
            context=context,
            answer=prediction.answer,
            reasoning=prediction.reasoning,
            confidence=prediction.confidence,
        )


def run(model: str | None = None, api_base: str | None = None, api_key: str | None = None) -> dict[str, Any]:
    examples = [
        dspy.Example(question=q["question"], answer=q["answer"]).with_inputs("question")
        for q in hotpotqa_questions()
    ]
    trainset, devset = examples[:20], examples[20:]
    with lm_or_stand_in(model, ExtractiveReader(), api_base=api_base, api_key=api_key) as lm:
        dspy.configure(lm=lm, rm=BM25Retriever(hotpotqa_corpus(), k=3))
        evaluate = dspy.Evaluate(devset=devset, metric=answer_exact_match, num_threads=16)
        before = evaluate(SimplifiedBaleen())
        optimizer = dspy.BootstrapFewShot(
            metric=answer_exact_match, max_bootstrapped_demos=3, max_labeled_demos=10
        )
        compiled = optimizer.compile(SimplifiedBaleen(), trainset=trainset)
        after = evaluate(compiled)
        report("before BootstrapFewShot", before)
        report("after BootstrapFewShot", after)
        return {"before": before, "after": after, "compiled": compiled, "devset": devset}


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
