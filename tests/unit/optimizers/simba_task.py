"""An arithmetic task whose stand-in model answers from the request alone, so what SIMBA and InferRules put
in a prompt (demos, appended rules) changes its answers: it adds, always; it multiplies only when the
prompt shows it a demo (or when sampled at temperature 0.5, the teacher's in these tests, so a teacher's
trajectories differ from the rollouts'); it subtracts only when the instructions carry advice. It never sees a label
(the prompt model's `oracle_metadata` is not read). The same handler serves both libraries over HTTP
(`FakeOpenAIServer`) and, in process, the dspy-ash kill-and-resume runs (`HandlerLM`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._types import Choice, LMRequest, LMResponse, Usage
from dspy_ash.testing.standins import read_conversation

OPS: dict[str, Callable[[int, int], int]] = {
    "plus": lambda a, b: a + b,
    "times": lambda a, b: a * b,
    "minus": lambda a, b: a - b,
}
ADVICE = "When the question says"
TEACHER_TEMPERATURE = 0.5


def _reply(fields: dict[str, str]) -> str:
    return "".join(f"[[ ## {k} ## ]]\n{v}\n\n" for k, v in fields.items()) + "[[ ## completed ## ]]"


def _op(text: str) -> str:
    return next((o for o in OPS if o in text), "plus")


def handler(body: dict[str, Any]) -> str:
    demos, final = read_conversation(body)
    system = str(body["messages"][0]["content"])
    names = final.get("module_names")
    if names is not None:  # SIMBA's OfferFeedback: advice about the operation of the program's inputs
        op = _op(json.loads(final.get("program_inputs") or "{}").get("question", ""))
        advice = {name: f"{ADVICE} '{op}', apply {op} to the numbers." for name in json.loads(names)}
        return _reply(
            {"discussion": f"The worse run mishandled '{op}'.", "module_advice": json.dumps(advice)}
        )
    examples = final.get("examples_text")
    if examples is not None:  # InferRules: a rule per operation named in the examples' inputs
        questions = [line for line in examples.splitlines() if line.startswith("question: ")]
        ops = sorted({_op(q) for q in questions})
        rules = "\n".join(f"{i + 1}. {ADVICE} '{op}', apply {op}." for i, op in enumerate(ops))
        return _reply({"reasoning": f"{len(questions)} examples.", "natural_language_rules": rules})
    question = final.get("question") or ""
    numbers = [int(n) for n in re.findall(r"\d+", question)[:2]] + [0, 0]
    a, b = numbers[0], numbers[1]
    if final.get("draft") is None and "`draft`" in system:
        return _reply({"draft": f"numbers {a} and {b}"})
    op = _op(question)
    multiplies = bool(demos) or body.get("temperature") == TEACHER_TEMPERATURE
    knows = op == "plus" or (op == "times" and multiplies) or (op == "minus" and ADVICE in system)
    fields = {"answer": str(OPS[op](a, b) if knows else a + b)}
    if "`reasoning`" in system:
        fields = {"reasoning": "Compute.", **fields}
    return _reply(fields)


def trainset(m: Any, n: int = 12) -> list[Any]:
    out: list[Any] = []
    for i in range(n):
        op = list(OPS)[i % 3]
        a, b = 3 + i, 2 + (i * 7) % 5
        out.append(
            m.Example(question=f"What is {a} {op} {b}?", answer=str(OPS[op](a, b))).with_inputs("question")
        )
    return out


def pipeline(m: Any) -> Any:
    """A two-step program (the same source text in both libraries: SIMBA shows it to the prompt model)."""

    class Pipeline(m.Module):
        def __init__(self):
            super().__init__()
            self.draft = m.Predict("question -> draft")
            self.solve = m.Predict("question, draft -> answer")

        def forward(self, question):
            draft = self.draft(question=question).draft
            return self.solve(question=question, draft=draft)

    return Pipeline()


def metric(example: Any, prediction: Any, trace: Any = None) -> float:
    return float(example.answer == getattr(prediction, "answer", None))


def metric_with_feedback(m: Any) -> Callable[..., Any]:
    """A metric returning `Prediction(score=..., feedback=...)`: SIMBA shows the feedback as reward info."""

    def scored(example: Any, prediction: Any, trace: Any = None) -> Any:
        score = metric(example, prediction)
        return m.Prediction(score=score, feedback="right" if score else f"expected {example.answer}")

    return scored


@dataclass
class Calls:
    """Shared by an LM and its rollout copies: calls answered, and the call on which to die."""

    done: int = 0
    kill_at: int | None = None


class Killed(BaseException):
    """The process dying mid-run (not an Exception: no optimizer swallows it)."""


class HandlerLM(BaseLM):
    """`handler` in process; `calls` is shared by every copy (`lm.copy(rollout_id=...)`)."""

    def __init__(self, calls: Calls | None = None) -> None:
        super().__init__("stand-in/arithmetic", cache=False)
        self.calls = calls or Calls()

    async def request(self, req: LMRequest) -> LMResponse:
        if self.calls.kill_at is not None and self.calls.done + 1 >= self.calls.kill_at:
            raise Killed(f"killed at call {self.calls.done + 1}")
        self.calls.done += 1
        return LMResponse(
            choices=[Choice(text=handler({"messages": req.messages, **req.params}))],
            usage=Usage(),
            model=self.model,
        )
