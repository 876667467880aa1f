"""The messages we build must equal DSPy 3.4.1's byte for byte (recorded in tests/fixtures from the reference)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import dspy_ash as dspy
from dspy_ash.testing import DummyLM

RECORDED = (Path(__file__).parents[2] / "fixtures" / "chat_json_adapter_prompts.txt").read_text()


def _render(messages: list[dict]) -> str:
    return "".join(f"===== {m['role']}\n{m['content']}\n" for m in messages)


class QA(dspy.Signature):
    """Answer questions with short factoid answers."""

    question: str = dspy.InputField()
    context: list[str] = dspy.InputField(desc="may contain relevant facts")
    answer: int = dspy.OutputField(desc="a number")
    label: Literal["a", "b"] = dspy.OutputField()


def test_predict_with_complete_and_incomplete_demos():
    lm = DummyLM([{"reasoning": "r", "answer": "3", "label": "a"}])
    dspy.configure(lm=lm)
    p = dspy.Predict(QA)
    p.demos = [
        dspy.Example(question="q1", context=["c1", "c2"], answer=1, label="b"),
        dspy.Example(question="q2", answer=2),
    ]
    out = p(question="What is 1+2?", context=["one plus two is three"])
    assert out.answer == 3 and out.label == "a"
    rendered = _render(lm.history[-1]["messages"])
    assert rendered in RECORDED
    assert rendered.startswith("===== system\nYour input fields are:\n1. `question` (str): \n")


def test_chain_of_thought_prompt():
    lm = DummyLM([{"reasoning": "because", "answer": "4"}])
    with dspy.context(lm=lm):
        r = dspy.ChainOfThought("question -> answer")(question="2+2?")
    assert (r.reasoning, r.answer) == ("because", "4")
    assert _render(lm.history[-1]["messages"]) in RECORDED.split("----- CoT")[1]


def test_json_adapter_prompt():
    lm = DummyLM([{"answer": "4"}], adapter=dspy.JSONAdapter())
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        r = dspy.Predict("question, context: list[str] -> answer: int")(question="2+2?", context=["a", "b"])
    assert r.answer == 4
    assert lm.history[-1]["outputs"] == ['{\n  "answer": "4"\n}']
    assert _render(lm.history[-1]["messages"]) in RECORDED.split("----- JSON adapter")[1]
