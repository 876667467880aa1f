"""The worked example: a retrieval-augmented QA program over the HotPotQA sample that ships with dspy-ash.

It retrieves passages with BM25, answers with ChainOfThought, is evaluated, optimized with
BootstrapFewShot (resumable through a checkpoint directory), evaluated again, saved in DSPy's JSON
format and loaded back. With the store installed (`pip install 'dspy-ash[store]'`), every execution
is traced into a SQLite database and the compiled program is kept there as a scored version.

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
import asyncio
import contextlib
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
        reasoning = "The passages state it." if found else "The passages do not say."
        return (
            f"[[ ## reasoning ## ]]\n{reasoning}\n\n[[ ## answer ## ]]\n{answer if found else 'unknown'}\n\n"
            "[[ ## completed ## ]]"
        )

    return reply


def _field(prompt: str, name: str) -> str:
    match = re.search(rf"\[\[ ## {name} ## \]\]\n(.*?)(?=\n\n\[\[ ## |\n\nRespond with|\Z)", prompt, re.S)
    return match.group(1).strip() if match else ""


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

    server = None
    if args.model:
        lm = dspy.LM(args.model, api_base=args.api_base, api_key=args.api_key)
    else:
        from dspy_ash.testing.fake_servers import FakeOpenAIServer

        server = FakeOpenAIServer(handler=simulated_reader({q["question"]: q["answer"] for q in questions}))
        server.__enter__()
        lm = dspy.LM("openai/simulated-reader", api_base=server.api_base, api_key="local", cache=False)
        print(f"No --model given: a simulated reader answers at {server.api_base} (see the docstring).")

    store = Store.open(args.database_url)
    try:
        dspy.configure(lm=lm, rm=retriever, callbacks=store.callbacks)
        evaluate = dspy.Evaluate(
            devset=devset, metric=answer_exact_match, num_threads=16, display_progress=True
        )
        with dspy.track_usage() as usage, store.tracing():
            before = evaluate(RAG())
            optimizer = dspy.BootstrapFewShot(
                metric=answer_exact_match, max_bootstrapped_demos=2, max_labeled_demos=2
            )
            checkpoints = Path(tempfile.mkdtemp(prefix="quickstart-checkpoints-"))
            compiled = optimizer.compile(RAG(), trainset=trainset, checkpoint=checkpoints)
            after = evaluate(compiled)
        print(f"exact match on dev: {before.score}% before, {after.score}% after BootstrapFewShot")
        demos = compiled.answer.predict.demos
        print(
            f"the compiled answerer carries {len(demos)} demos "
            f"({sum(1 for d in demos if d.get('augmented'))} bootstrapped)"
        )

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
        store.keep_version(compiled, score=after.score)
    finally:
        store.close()
        if server is not None:
            server.__exit__(None, None, None)


class Store:
    """The optional store part: a tenant, a program, a trace recorder, and the compiled version."""

    def __init__(self, url: str | None, tenant_id: Any = None, program_id: Any = None, recorder: Any = None):
        self.url, self.tenant_id, self.program_id, self.recorder = url, tenant_id, program_id, recorder

    @classmethod
    def open(cls, url: str | None) -> Store:
        try:
            from dspy_ash.store import TraceRecorder, migrate, repos
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
