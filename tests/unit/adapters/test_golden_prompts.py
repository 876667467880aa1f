"""The messages we build must equal DSPy 3.4.1's byte for byte, every role and content of the list
(recorded in tests/fixtures by the reference's render.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import dspy_ash as dspy
from dspy_ash.testing import DummyLM

FIXTURE = (Path(__file__).parents[2] / "fixtures" / "chat_json_adapter_prompts.txt").read_text()
_HEADER = re.compile(r"^===== (system|user|assistant)\n", re.MULTILINE)
_END = re.compile(r"^(===== RESPONSE|outputs |----- )", re.MULTILINE)


def _recorded(section: str) -> list[dict[str, str]]:
    """The messages DSPy printed for one section of the fixture (`print(content)` after each header)."""
    text = FIXTURE if section == "Predict" else FIXTURE.split(f"----- {section}\n", 1)[1]
    text = text[text.index("===== system\n") :]
    end = _END.search(text)
    text = text[: end.start()] if end else text
    headers = list(_HEADER.finditer(text))
    messages = []
    for header, following in zip(headers, [*headers[1:], None], strict=True):
        content = text[header.end() : following.start() if following else len(text)]
        assert content.endswith("\n")  # the newline print() added
        messages.append({"role": header.group(1), "content": content[:-1]})
    return messages


def _sent(lm: DummyLM) -> list[dict[str, str]]:
    return [{"role": m["role"], "content": m["content"]} for m in lm.history[-1]["messages"]]


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
    recorded = _recorded("Predict")
    assert [m["role"] for m in recorded] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert _sent(lm) == recorded


def test_chain_of_thought_prompt():
    lm = DummyLM([{"reasoning": "because", "answer": "4"}])
    with dspy.context(lm=lm):
        r = dspy.ChainOfThought("question -> answer")(question="2+2?")
    assert (r.reasoning, r.answer) == ("because", "4")
    assert _sent(lm) == _recorded("CoT")


def test_json_adapter_prompt():
    lm = DummyLM([{"answer": "4"}], adapter=dspy.JSONAdapter())
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        r = dspy.Predict("question, context: list[str] -> answer: int")(question="2+2?", context=["a", "b"])
    assert r.answer == 4
    assert lm.history[-1]["outputs"] == ['{\n  "answer": "4"\n}']
    assert _sent(lm) == _recorded("JSON adapter")
