"""Shared helpers: a QA task with deterministic content-keyed LM replies for both dspy-ash and real dspy,
and an LM wrapper that counts calls and can die mid-run."""

from __future__ import annotations

from typing import Any

from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._types import LMRequest, LMResponse


def qa_answers(n: int, wrong: set[int] | None = None) -> dict[str, dict[str, str]]:
    """Replies keyed by a unique question marker; the teacher gets the `wrong` ones wrong."""
    return {f"<q{i:03d}>": {"answer": f"wrong{i}" if wrong and i in wrong else f"a{i}"} for i in range(n)}


def qa_trainset(module: Any, n: int) -> list[Any]:
    return [
        module.Example(question=f"What is <q{i:03d}>?", answer=f"a{i}").with_inputs("question")
        for i in range(n)
    ]


class Killed(BaseException):
    """Simulates the process dying mid-run (not an `Exception`, so no optimizer swallows it)."""


class CountingLM(BaseLM):
    """Wraps an LM: counts successful calls and raises `Killed` on call number `kill_at` (1-based)."""

    def __init__(self, inner: BaseLM, kill_at: int | None = None) -> None:
        super().__init__(inner.model)
        self.inner = inner
        self.kill_at = kill_at
        self.attempts = 0
        self.calls = 0

    async def request(self, req: LMRequest) -> LMResponse:
        self.attempts += 1
        if self.kill_at is not None and self.attempts >= self.kill_at:
            raise Killed(f"killed at call {self.attempts}")
        response = await self.inner.request(req)
        self.calls += 1
        return response


def exact(example: Any, pred: Any, trace: Any = None) -> bool:
    return bool(example.answer == pred.answer)


def mipro_answers(n: int, wrong: set[int]) -> dict[str, dict[str, str]]:
    """Replies for every MIPROv2 prompt (proposer keys first: their prompts also quote questions)."""
    replies: dict[str, dict[str, str]] = {
        "Keep the instruction clear and concise.": {"proposed_instruction": "Answer concisely."},
        "Don't be afraid to be creative": {"proposed_instruction": "Instruction: Answer creatively."},
        "very informative and descriptive": {"proposed_instruction": "Answer with care and detail."},
        "high stakes scenario": {"proposed_instruction": "Lives depend on your answer."},
        "Include a persona": {"proposed_instruction": "You are a quiz champion."},
        "[[ ## basic_instruction ## ]]": {"proposed_instruction": "Answer the question."},
        "[[ ## module ## ]]": {"module_description": "It answers questions."},
        "[[ ## program_code ## ]]": {"program_description": "A question answering program."},
        "[[ ## prior_observations ## ]]": {"observations": "COMPLETE"},
        "[[ ## examples ## ]]": {"observations": "Short trivia questions."},
        "[[ ## observations ## ]]": {"summary": "Summary: Trivia questions with short answers."},
    }
    replies.update(qa_answers(n, wrong))
    return replies


def prompts_sent(run: Any, global_history: list[dict[str, Any]]) -> Any:
    """The multiset of message lists sent to any LM (rollout copies included) while `run()` runs."""
    import collections
    import json

    global_history.clear()
    run()
    return collections.Counter(json.dumps(h["messages"], sort_keys=True) for h in global_history)
