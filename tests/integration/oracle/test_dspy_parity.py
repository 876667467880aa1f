"""Differential tests against the real dspy 3.4.1 package (test extra only): same prompts, same saved files."""

from __future__ import annotations

import enum
import json
import random
from collections.abc import Callable
from typing import Any, Literal, Optional

import dspy  # the oracle, a test dependency: absent must fail, not skip
import pydantic
import pytest
from dspy.utils.dummies import DummyLM as OracleDummyLM

import dspy_ash
from dspy_ash.testing import DummyLM

pytestmark = pytest.mark.oracle

# dspy's metaclass makes `Signature("a -> b")` a new class, but its annotations show pydantic's
# keyword-only constructor: the oracle's string form is called through this plainly typed name.
oracle_signature: Callable[..., Any] = dspy.Signature


class Mood(enum.Enum):
    HAPPY = "happy"
    SAD = "sad"


class Person(pydantic.BaseModel):
    name: str
    age: int


TYPES: list[tuple[str, Any, Any]] = [
    # (type text, annotation, value generator)
    ("str", str, lambda r: r.choice(["plain", "multi\nline", "«quoted»", "", "ünïcode"])),
    ("int", int, lambda r: r.randint(-5, 500)),
    ("float", float, lambda r: round(r.uniform(-3, 3), 3)),
    ("bool", bool, lambda r: r.random() < 0.5),
    ("list[str]", list[str], lambda r: [f"p{i}" for i in range(r.randint(0, 3))]),
    ("dict[str, int]", dict[str, int], lambda r: {"a": r.randint(0, 9)}),
    ("Literal['x', 'y']", Literal["x", "y"], lambda r: r.choice(["x", "y"])),
    ("Optional[int]", Optional[int], lambda r: r.choice([None, 3])),  # noqa: UP045
    ("Mood", Mood, lambda r: r.choice(list(Mood))),
    ("Person", Person, lambda r: Person(name="Ann", age=r.randint(1, 90))),
    ("list[Person]", list[Person], lambda r: [Person(name="Bo", age=2)]),
]


def _random_signature(rng: random.Random) -> tuple[str, dict[str, Any], list[str], list[str], str | None]:
    n_in, n_out = rng.randint(1, 3), rng.randint(1, 3)
    names = rng.sample(
        ["question", "context", "topic", "answer", "score", "label", "items", "notes", "extra"], n_in + n_out
    )
    chosen = [rng.choice(TYPES) for _ in names]
    ins = [f"{n}: {t[0]}" for n, t in zip(names[:n_in], chosen[:n_in], strict=True)]
    outs = [f"{n}: {t[0]}" for n, t in zip(names[n_in:], chosen[n_in:], strict=True)]
    text = ", ".join(ins) + " -> " + ", ".join(outs)
    values = {n: t[2](rng) for n, t in zip(names, chosen, strict=True)}
    instructions = rng.choice([None, "Do it well.", "Line one.\n  Indented line two.\n\nLast."])
    return text, values, names[:n_in], names[n_in:], instructions


def _messages_both(text, values, ins, outs, instructions, demos_idx, adapter_name):
    custom = {"Mood": Mood, "Person": Person}
    outputs = {k: values[k] for k in outs}
    inputs = {k: values[k] for k in ins}
    demo_full = {**inputs, **outputs}
    demo_partial = {ins[0]: inputs[ins[0]], outs[0]: outputs[outs[0]]}
    demos = [[], [demo_full], [demo_partial, demo_full]][demos_idx]

    def reply(lib_adapter):
        return {
            k: (
                v.model_dump(mode="json")
                if isinstance(v, pydantic.BaseModel)
                else [x.model_dump(mode="json") for x in v]
                if isinstance(v, list) and v and isinstance(v[0], pydantic.BaseModel)
                else v.value
                if isinstance(v, enum.Enum)
                else v
            )
            for k, v in outputs.items()
        }

    o_adapter = dspy.JSONAdapter() if adapter_name == "json" else dspy.ChatAdapter()
    a_adapter = dspy_ash.JSONAdapter() if adapter_name == "json" else dspy_ash.ChatAdapter()
    o_lm = OracleDummyLM([reply(o_adapter)], adapter=o_adapter)
    a_lm = DummyLM([reply(a_adapter)], adapter=a_adapter)
    o_sig = oracle_signature(text, instructions, custom_types=custom)
    a_sig = dspy_ash.Signature(text, instructions, custom_types=custom)
    with dspy.context(lm=o_lm, adapter=o_adapter):
        o_pred = dspy.Predict(o_sig, demos=None)
        o_pred.demos = [dspy.Example(**d) for d in demos]
        o_out = o_pred(**inputs)
    with dspy_ash.context(lm=a_lm, adapter=a_adapter):
        a_pred = dspy_ash.Predict(a_sig)
        a_pred.demos = [dspy_ash.Example(**d) for d in demos]
        a_out = a_pred(**inputs)
    return o_lm.history[-1]["messages"], a_lm.history[-1]["messages"], o_out, a_out


@pytest.mark.parametrize("seed", range(60))
def test_generated_prompts_and_parses_match_dspy(seed):
    rng = random.Random(seed)
    text, values, ins, outs, instructions = _random_signature(rng)
    adapter = "json" if seed % 3 == 0 else "chat"
    o_msgs, a_msgs, o_out, a_out = _messages_both(text, values, ins, outs, instructions, seed % 3, adapter)
    assert a_msgs == o_msgs, text
    assert a_out.toDict() == o_out.toDict(), text


class QA(dspy_ash.Signature):
    """Answer the question."""

    question: str = dspy_ash.InputField(desc="a trivia question")
    answer: str = dspy_ash.OutputField(desc="short answer")


class OQA(dspy.Signature):
    """Answer the question."""

    question: str = dspy.InputField(desc="a trivia question")
    answer: str = dspy.OutputField(desc="short answer")


def _ash_program():
    class Prog(dspy_ash.Module):
        def __init__(self):
            self.rewrite = dspy_ash.Predict("question -> query")
            self.qa = dspy_ash.ChainOfThought(QA)

        def forward(self, question):
            return self.qa(question=self.rewrite(question=question).query)

    return Prog()


def _oracle_program() -> Any:  # dspy's modules carry no attribute types pyright could follow
    class Prog(dspy.Module):
        def __init__(self):
            super().__init__()
            self.rewrite = dspy.Predict("question -> query")
            self.qa = dspy.ChainOfThought(OQA)

        def forward(self, question):
            return self.qa(question=self.rewrite(question=question).query)

    return Prog()


def test_file_saved_here_loads_in_dspy(tmp_path, caplog):
    prog = _ash_program()
    prog.rewrite.demos = [dspy_ash.Example(question="Capital of France?", query="q", augmented=True)]
    prog.qa.predict.signature = prog.qa.predict.signature.with_instructions("Be brief.")
    path = tmp_path / "ash.json"
    prog.save(path)
    oracle = _oracle_program()
    oracle.load(str(path))
    assert oracle.qa.predict.signature.instructions == "Be brief."
    assert oracle.rewrite.demos == [{"question": "Capital of France?", "query": "q", "augmented": True}]
    assert oracle.dump_state() == {k: v for k, v in json.loads(path.read_text()).items() if k != "metadata"}


def test_file_saved_by_dspy_loads_here(tmp_path):
    oracle = _oracle_program()
    oracle.rewrite.demos = [dspy.Example(question="q1", query="r1", augmented=True)]
    oracle.qa.predict.signature = oracle.qa.predict.signature.with_instructions("Think.")
    oracle.qa.predict.lm = dspy.LM("openai/gpt-4o-mini", temperature=0.0, max_tokens=256, api_key="sk-secret")
    path = tmp_path / "oracle.json"
    oracle.save(str(path))
    assert "sk-secret" not in path.read_text()
    prog = _ash_program().load(path)
    assert prog.qa.predict.signature.instructions == "Think."
    assert prog.rewrite.demos[0]["query"] == "r1"
    assert prog.qa.predict.lm.model == "openai/gpt-4o-mini"
    again = tmp_path / "again.json"
    prog.save(again)
    ours, theirs = json.loads(again.read_text()), json.loads(path.read_text())
    assert ours["rewrite"] == theirs["rewrite"]
    assert ours["qa.predict"]["signature"] == theirs["qa.predict"]["signature"]
    assert ours["qa.predict"]["demos"] == theirs["qa.predict"]["demos"]


def test_signature_reprs_match_dspy():
    """Reprs reach prompts (MIPROv2 shows program source), so they must be DSPy's to the character."""

    class A(dspy.Signature):
        """Doc."""

        question: str = dspy.InputField(desc="q", description="d2")
        n: int = dspy.OutputField(gt=0, description="count")

    class B(dspy_ash.Signature):
        """Doc."""

        question: str = dspy_ash.InputField(desc="q", description="d2")
        n: int = dspy_ash.OutputField(gt=0, description="count")

    assert repr(B) == repr(A).replace("A(", "B(", 1)
    assert repr(dspy_ash.Signature("a, b: int -> c")) == repr(oracle_signature("a, b: int -> c"))
    assert repr(dspy_ash.ChainOfThought("q -> a").predict.signature) == repr(
        dspy.ChainOfThought("q -> a").predict.signature
    )


@pytest.mark.parametrize("n", [1, 3])
def test_inspect_history_prints_what_dspy_prints(n):
    import io
    import re

    def printed(lib, dummy):
        lm = dummy([{"reasoning": "r", "answer": "Paris"}] * 3)
        with lib.context(lm=lm):
            lib.ChainOfThought("question -> answer", n=n)(question="Capital of France?")
        buf = io.StringIO()
        lm.inspect_history(n=1, file=buf)
        return re.sub(r"\[\d{4}-\d\d-\d\dT[\d:.]+\]", "[time]", buf.getvalue())

    assert printed(dspy_ash, DummyLM) == printed(dspy, OracleDummyLM)


@pytest.mark.parametrize("config", [{}, {"n": 3}, {"temperature": 0.3, "max_tokens": 5}])
def test_history_entries_hold_dspys_kwargs(config):
    def kwargs_of(lib, dummy):
        lm = dummy([{"answer": "a"}] * 3)
        with lib.context(lm=lm):
            lib.Predict("question -> answer", **config)(question="q")
        return lm.history[-1]["kwargs"]

    assert kwargs_of(dspy_ash, DummyLM) == kwargs_of(dspy, OracleDummyLM)
