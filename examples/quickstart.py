"""The worked example: a retrieval-augmented QA program over the HotPotQA sample that ships with dspy-ash.

It retrieves passages with BM25, answers with ChainOfThought, is evaluated, optimized with
BootstrapFewShot (resumable through a checkpoint directory), evaluated again, saved in DSPy's JSON
format and loaded back. With the store installed (`pip install 'dspy-ash[store]'`), every execution
is traced into a SQLite database and the compiled program is kept there as a scored version.

    python examples/quickstart.py                                # offline, a local stand-in model
    python examples/quickstart.py --model openai/gpt-4o-mini     # a real model (OPENAI_API_KEY)
    python examples/quickstart.py --model openai/llama3 --api-base http://localhost:8000/v1

Without --model the LM is an offline stand-in, not a real LM: `dspy_ash.testing.standins.ExtractiveReader`
served over HTTP on 127.0.0.1 by dspy-ash's fake OpenAI-compatible server. It answers from the prompt
alone (it never sees the dataset): it picks the sentence of the retrieved passages that shares the most
words with the question. With no demos in its prompt it answers with that whole sentence, so exact
match is low; with demos it imitates their answer format (yes/no, or an entity or number span as long
as the demos' answers), which is how BootstrapFewShot's demos move its score. A real model is needed to
see what optimization buys in earnest.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dspy_ash as dspy
from dspy_ash.evaluate import answer_exact_match
from dspy_ash.retrievers import BM25Retriever, hotpotqa_corpus, hotpotqa_questions
from dspy_ash.testing.standins import ExtractiveReader, lm_or_stand_in


class RAG(dspy.Module):
    """Retrieve k passages for the question, then reason to a short answer."""

    def __init__(self, k: int = 3) -> None:
        self.retrieve = dspy.Retrieve(k=k)
        self.answer = dspy.ChainOfThought("context: list[str], question -> answer")

    def forward(self, question: str) -> dspy.Prediction:
        context = self.retrieve(question).passages
        return self.answer(context=context, question=question)


@dataclass
class Outcome:
    """What a run produced, for a caller (the tests) to check."""

    uncompiled: RAG
    compiled: RAG
    reloaded: RAG
    before: Any  # EvaluationResult
    after: Any
    devset: list[Any]


def report(label: str, result: Any) -> None:
    """Total, correct, accuracy, and three predictions (the first correct one, if any, and wrong ones)."""
    correct = sum(1 for _, _, score in result.results if score)
    total = len(result.results)
    print(f"{label}: {correct} of {total} correct, exact match {result.score}%")
    right = [r for r in result.results if r[2]][:1]  # show a correct one when there is one
    for example, prediction, score in right + [r for r in result.results if not r[2]][: 3 - len(right)]:
        print(f"  Q: {example.question}")
        print(f"     gold: {example.answer!r}  predicted: {prediction.answer!r}  correct: {bool(score)}")


def run(
    model: str | None = None,
    api_base: str | None = None,
    api_key: str | None = None,
    out: str = "quickstart_program.json",
    database_url: str | None = None,
) -> Outcome:
    questions = hotpotqa_questions()
    examples = [
        dspy.Example(question=q["question"], answer=q["answer"]).with_inputs("question") for q in questions
    ]
    trainset, devset = examples[:20], examples[20:]
    retriever = BM25Retriever(hotpotqa_corpus(), k=3)
    print(
        f"HotPotQA sample: {len(trainset)} training and {len(devset)} dev questions; "
        f"{len(hotpotqa_corpus())} passages indexed with BM25."
    )

    store = Store.open(database_url)
    try:
        with lm_or_stand_in(model, ExtractiveReader(), api_base=api_base, api_key=api_key) as lm:
            return _run(lm, retriever, store, trainset, devset, out)
    finally:
        store.close()


def _run(lm: Any, retriever: Any, store: Store, trainset: list[Any], devset: list[Any], out: str) -> Outcome:
    """Evaluate, compile, evaluate again, save and reload, keep the compiled version in the store."""
    dspy.configure(lm=lm, rm=retriever, callbacks=store.callbacks)
    evaluate = dspy.Evaluate(devset=devset, metric=answer_exact_match, num_threads=16, display_progress=True)
    uncompiled = RAG()
    with dspy.track_usage() as usage, store.tracing():
        before = evaluate(uncompiled)
        optimizer = dspy.BootstrapFewShot(
            metric=answer_exact_match, max_bootstrapped_demos=2, max_labeled_demos=2
        )
        checkpoints = Path(tempfile.mkdtemp(prefix="quickstart-checkpoints-"))
        compiled = optimizer.compile(RAG(), trainset=trainset, checkpoint=checkpoints)
        after = evaluate(compiled)
    report("before BootstrapFewShot", before)
    report("after BootstrapFewShot", after)
    demos = compiled.answer.predict.demos
    print(
        f"the compiled answerer carries {len(demos)} demos "
        f"({sum(1 for d in demos if d.get('augmented'))} bootstrapped)"
    )

    compiled.save(out)
    reloaded = RAG()
    reloaded.load(out)
    print(f"saved to {out} (DSPy's JSON format) and loaded back into a fresh program")

    totals = usage.get_total_tokens()
    tokens = sum(u.get("total_tokens", 0) for u in totals.values())
    print(f"LM calls: {usage.calls}, tokens: {tokens}")
    store.keep_version(compiled, score=after.score)
    return Outcome(uncompiled, compiled, reloaded, before, after, devset)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", help="e.g. openai/gpt-4o-mini; omit to run offline")
    parser.add_argument("--api-base")
    parser.add_argument("--api-key")
    parser.add_argument("--out", default="quickstart_program.json", help="where to save the compiled program")
    parser.add_argument("--database-url", help="the store (default: a fresh SQLite file in a temp directory)")
    args = parser.parse_args()
    run(args.model, args.api_base, args.api_key, args.out, args.database_url)


class Store:
    """The optional store part: a tenant, a program, a trace recorder, and the compiled version."""

    def __init__(self, url: str | None, tenant_id: Any = None, program_id: Any = None, recorder: Any = None):
        self.url, self.tenant_id, self.program_id, self.recorder = url, tenant_id, program_id, recorder

    @classmethod
    def open(cls, url: str | None) -> Store:
        try:
            from dspy_ash.store import TraceRecorder, repos
            from dspy_ash.store import _migrate as migrate
        except ImportError:
            print("(the store is not installed: pip install 'dspy-ash[store]' to trace runs into SQL)")
            return cls(None)
        url = url or f"sqlite+aiosqlite:///{tempfile.mkdtemp(prefix='quickstart-store-')}/dspy-ash.db"

        async def setup() -> tuple[Any, Any]:
            from dspy_ash.store import connect

            await migrate.upgrade(url)
            db = await connect(url)
            try:
                async with db.transaction() as s:
                    tenant = await repos.tenants.create_tenant(s, name="quickstart", actor="quickstart")
                    program = await repos.programs.create_program(
                        s,
                        tenant_id=tenant.id,
                        actor="quickstart",
                        name="hotpotqa-rag",
                        source="quickstart:RAG",
                    )
                    return tenant.id, program.id
            finally:
                await db.dispose()

        tenant_id, program_id = asyncio.run(setup())
        return cls(url, tenant_id, program_id, TraceRecorder(url, tenant_id=tenant_id))

    @property
    def callbacks(self) -> list[Any]:
        return [self.recorder] if self.recorder is not None else []

    def tracing(self) -> Any:
        if self.recorder is None:
            return contextlib.nullcontext()
        from dspy_ash.store import trace_context

        return trace_context(program_id=self.program_id)

    def keep_version(self, program: Any, score: float) -> None:
        if self.recorder is None:
            return
        from dspy_ash.store import connect, repos

        self.recorder.flush()

        async def save() -> None:
            db = await connect(self.url)
            try:
                async with db.transaction() as s:
                    version = await repos.versions.create_version(
                        s,
                        tenant_id=self.tenant_id,
                        actor="quickstart",
                        program_id=self.program_id,
                        state=program.dump_state(),
                        metric="answer_exact_match",
                        score=score,
                        note="BootstrapFewShot",
                    )
                    traces = await repos.traces.list_traces(
                        s, tenant_id=self.tenant_id, program_id=self.program_id, limit=10_000
                    )
                    print(
                        f"store ({self.url}): {len(traces)} traces recorded; the compiled program is "
                        f"version {version.number} with score {version.score}"
                    )
            finally:
                await db.dispose()

        asyncio.run(save())

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()


if __name__ == "__main__":
    main()
