"""The worked example: a retrieval-augmented QA program over the HotPotQA sample that ships with dspy-ash.

It retrieves passages with BM25, answers with ChainOfThought, is evaluated, optimized with
BootstrapFewShot (resumable through a checkpoint directory), evaluated again, saved in DSPy's JSON
format and loaded back.

    python examples/quickstart.py                                # offline, a local simulated model
    python examples/quickstart.py --model openai/gpt-4o-mini     # a real model (OPENAI_API_KEY)
    python examples/quickstart.py --model openai/llama3 --api-base http://localhost:8000/v1

Without --model the LM is a simulated reader served over HTTP on 127.0.0.1 by dspy-ash's fake
OpenAI-compatible server: it answers correctly only when the gold answer appears in the passages the
program retrieved, else says it does not know. Its scores therefore measure retrieval, and few-shot
demos do not change them; a real model is needed to see what optimization buys.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from pathlib import Path
from typing import Any

import dspy_ash as dspy
from dspy_ash.evaluate import answer_exact_match
from dspy_ash.retrievers import BM25Retriever, hotpotqa_corpus, hotpotqa_questions


class RAG(dspy.Module):
    """Retrieve k passages for the question, then reason to a short answer."""

    def __init__(self, k: int = 3) -> None:
        self.retrieve = dspy.Retrieve(k=k)
        self.answer = dspy.ChainOfThought("context: list[str], question -> answer")

    def forward(self, question: str) -> dspy.Prediction:
        context = self.retrieve(question).passages
        return self.answer(context=context, question=question)


def simulated_reader(gold: dict[str, str]) -> Any:
    """A stand-in model: reads the `context` and `question` fields of the prompt it is sent."""

    def reply(body: dict[str, Any]) -> str:
        prompt = body["messages"][-1]["content"]
        question = _field(prompt, "question")
        context = _field(prompt, "context")
        answer = gold.get(question, "")
        found = bool(answer) and answer.lower() in context.lower()
        reasoning = ("The passages state it." if found else "The passages do not say.")
        return (f"[[ ## reasoning ## ]]\n{reasoning}\n\n[[ ## answer ## ]]\n{answer if found else 'unknown'}\n\n"
                "[[ ## completed ## ]]")

    return reply


def _field(prompt: str, name: str) -> str:
    match = re.search(rf"\[\[ ## {name} ## \]\]\n(.*?)(?=\n\n\[\[ ## |\n\nRespond with|\Z)", prompt, re.S)
    return match.group(1).strip() if match else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="e.g. openai/gpt-4o-mini; omit to run offline")
    parser.add_argument("--api-base")
    parser.add_argument("--api-key")
    parser.add_argument("--out", default="quickstart_program.json", help="where to save the compiled program")
    args = parser.parse_args()

    questions = hotpotqa_questions()
    examples = [dspy.Example(question=q["question"], answer=q["answer"]).with_inputs("question") for q in questions]
    trainset, devset = examples[:20], examples[20:]
    retriever = BM25Retriever(hotpotqa_corpus(), k=3)
    print(f"HotPotQA sample: {len(trainset)} training and {len(devset)} dev questions; "
          f"{len(hotpotqa_corpus())} passages indexed with BM25.")

    server = None
    if args.model:
        lm = dspy.LM(args.model, api_base=args.api_base, api_key=args.api_key)
    else:
        from dspy_ash.testing.fake_servers import FakeOpenAIServer

        server = FakeOpenAIServer(handler=simulated_reader({q["question"]: q["answer"] for q in questions}))
        server.__enter__()
        lm = dspy.LM("openai/simulated-reader", api_base=server.api_base, api_key="local", cache=False)
        print(f"No --model given: a simulated reader answers at {server.api_base} (see the docstring).")

    try:
        dspy.configure(lm=lm, rm=retriever)
        evaluate = dspy.Evaluate(devset=devset, metric=answer_exact_match, num_threads=16, display_progress=True)
        with dspy.track_usage() as usage:
            before = evaluate(RAG())
            optimizer = dspy.BootstrapFewShot(metric=answer_exact_match, max_bootstrapped_demos=2,
                                              max_labeled_demos=2)
            checkpoints = Path(tempfile.mkdtemp(prefix="quickstart-checkpoints-"))
            compiled = optimizer.compile(RAG(), trainset=trainset, checkpoint=checkpoints)
            after = evaluate(compiled)
        print(f"exact match on dev: {before.score}% before, {after.score}% after BootstrapFewShot")
        demos = compiled.answer.predict.demos
        print(f"the compiled answerer carries {len(demos)} demos "
              f"({sum(1 for d in demos if d.get('augmented'))} bootstrapped)")

        compiled.save(args.out)
        reloaded = RAG()
        reloaded.load(args.out)
        assert [dict(d) for d in reloaded.answer.predict.demos] == [dict(d) for d in demos]
        print(f"saved to {args.out} (DSPy's JSON format) and loaded back into a fresh program")

        question = devset[0].question
        print(f"\nQ: {question}\nA: {reloaded(question=question).answer}")
        totals = usage.get_total_tokens()
        tokens = sum(u.get("total_tokens", 0) for u in totals.values())
        print(f"LM calls: {usage.calls}, tokens: {tokens}")
    finally:
        if server is not None:
            server.__exit__(None, None, None)


if __name__ == "__main__":
    main()
