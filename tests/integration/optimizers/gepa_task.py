"""A GEPA task both dspy-ash and real dspy can run: a stand-in model that answers from the prompt alone.

The task model gets question i right when `i % 6` is at most the "level" its instructions name (plus,
in the two-step program, the level of the draft it was given); the reflection model answers the next
level after the one the current instruction names. Neither reads gold labels: the level is in the
prompt, the question number in the question. Garbled replies (no field markers) for some questions at
level 0 exercise GEPA's format-failure path.
"""

from __future__ import annotations

import json
import re
from typing import Any

from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._types import Choice, LMRequest, LMResponse, Usage

LEVEL = re.compile(r"level (\d+)")


def _content(message: dict[str, Any]) -> str:
    content = message.get("content", "")
    return content if isinstance(content, str) else " ".join(str(p.get("text", "")) for p in content)


def reply(messages: list[dict[str, Any]], garble: bool = False) -> str:
    system, last = _content(messages[0]), _content(messages[-1])
    if "current_instruction" in system:  # the reflection prompt (JSONAdapter)
        current = last.split("examples_with_feedback")[0]
        found = LEVEL.search(current)
        return json.dumps(
            {"new_instruction": f"Answer with care, level {int(found.group(1)) + 1 if found else 1}."}
        )
    i = int(re.findall(r"<q(\d+)>", last)[-1])
    found = LEVEL.search(system)
    level = int(found.group(1)) if found else 0
    if "`[[ ## draft ## ]]`" in last:
        return f"[[ ## draft ## ]]\nd{level}\n\n[[ ## completed ## ]]"
    draft = re.search(r"\[\[ ## draft ## \]\]\nd(\d+)", last)
    level += int(draft.group(1)) if draft else 0
    if garble and level == 0 and i % 5 == 1:
        return "I would rather not say."
    answer = f"a{i}" if i % 6 <= level else "wrong"
    return f"[[ ## answer ## ]]\n{answer}\n\n[[ ## completed ## ]]"


def handler(garble: bool = False) -> Any:
    return lambda body: reply(body["messages"], garble)


class TaskLM(BaseLM):
    """The stand-in model in-process (no HTTP), for dspy-ash-only tests."""

    def __init__(self, model: str = "task", garble: bool = False) -> None:
        super().__init__(model)
        self.garble = garble

    async def request(self, req: LMRequest) -> LMResponse:
        return LMResponse(
            choices=[Choice(text=reply(req.messages, self.garble), finish_reason="stop")], usage=Usage()
        )


def dataset(module: Any, n: int = 12) -> list[Any]:
    return [
        module.Example(question=f"What is <q{i:03d}>?", answer=f"a{i}").with_inputs("question")
        for i in range(n)
    ]


def feedback_metric(module: Any) -> Any:
    def metric(gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None) -> Any:
        ok = float(gold.answer == pred.answer)
        where = f" ({pred_name})" if pred_name else ""
        return module.Prediction(
            score=ok, feedback=("Correct." if ok else f"Expected {gold.answer}.") + where
        )

    return metric


def plain_metric(
    gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pred_trace: Any = None
) -> float:
    return float(gold.answer == pred.get("answer"))


def program(module: Any, kind: str) -> Any:
    if kind == "predict":
        return module.Predict("question -> answer")

    class TwoStep(module.Module):
        def __init__(self) -> None:
            super().__init__()
            self.draft = module.Predict("question -> draft")
            self.answer = module.Predict("question, draft -> answer")

        def forward(self, question: str) -> Any:
            draft = self.draft(question=question).draft
            return self.answer(question=question, draft=draft)

    return TwoStep()


def instructions(compiled: Any) -> list[list[str]]:
    """Each candidate's instructions, predictor by predictor."""
    return [
        [p.signature.instructions for _, p in c.named_predictors()]
        for c in compiled.detailed_results.candidates
    ]
