"""TwoStepAdapter and BAMLAdapter against the real dspy 3.4.1 (the oracle, test extra): the same signatures and
LM replies give the same messages to each LM byte for byte, and the same parsed outputs."""

from __future__ import annotations

from typing import Any, Literal

import dspy as _dspy  # the oracle, a test dependency: absent must fail, not skip
import dspy.adapters.baml_adapter as _oracle_baml
import pydantic
import pytest
from dspy.utils.dummies import DummyLM as _OracleDummyLM

import dspy_ash
from dspy_ash.adapters._baml_adapter import BAMLAdapter
from dspy_ash.testing import DummyLM

dspy: Any = _dspy
oracle_baml: Any = _oracle_baml
OracleDummyLM: Any = _OracleDummyLM

pytestmark = pytest.mark.oracle


class Address(pydantic.BaseModel):
    """A postal address.

    Second docstring line."""

    street: str = pydantic.Field(description="street and number")
    country: Literal["US", "CA"]
    verified: Literal[True, None, 3] | None = None


class Job(pydantic.BaseModel):
    title: str = pydantic.Field(alias="job_title")
    years: float | None = None


class Empty(pydantic.BaseModel):
    pass


class Patient(pydantic.BaseModel):
    """A patient record."""

    name: str
    home: Address | None
    jobs: list[Job]
    scores: dict[str, int]
    tags: list[str]
    nothing: Empty


class Loop(pydantic.BaseModel):
    child: Loop | None = None


CUSTOM = {"Patient": Patient, "Address": Address, "Job": Job, "Loop": Loop}
SIGNATURES = [
    "question: str -> answer: str",
    "question: str, context: list[str] -> answer: str, score: float, ok: bool",
    "note: str -> patient: Patient, count: int",
    "patient: Patient, note: str -> summary: str, address: Optional[Address]",
    "text: str -> jobs: list[Job], label: Literal['a', 'b']",
]
INPUTS: dict[str, Any] = {
    "question": "What is 2 + 2?",
    "context": ["one", "two"],
    "note": "Ann, 30, lives in Oslo.",
    "text": "some text",
    "patient": Patient(
        name="Ann",
        home=Address(street="1 Main St", country="US"),
        jobs=[Job(job_title="nurse", years=2.5)],
        scores={"a": 1},
        tags=["x"],
        nothing=Empty(),
    ),
}


def _pair(text: str) -> tuple[Any, Any]:
    instructions = "Do the task.\n  Carefully."
    return (
        dspy.Signature(text, instructions, custom_types=CUSTOM),
        dspy_ash.Signature(text, instructions, custom_types=CUSTOM),
    )


@pytest.mark.parametrize("text", SIGNATURES)
def test_baml_messages_match_dspy(text: str) -> None:
    o_sig, a_sig = _pair(text)
    inputs = {k: INPUTS[k] for k in a_sig.input_fields}
    demo = {**inputs, **{k: "demo value" for k in a_sig.output_fields}}
    o_msgs = oracle_baml.BAMLAdapter().format(o_sig, [dspy.Example(**demo)], inputs)
    a_msgs = BAMLAdapter().format(a_sig, [dspy_ash.Example(**demo)], inputs)
    assert a_msgs == o_msgs


def test_baml_refuses_a_recursive_model_as_dspy_does() -> None:
    o_sig, a_sig = _pair("text: str -> loop: Loop")
    with pytest.raises(ValueError, match="recursive pydantic models") as expected:
        oracle_baml.BAMLAdapter().format_field_structure(o_sig)
    with pytest.raises(ValueError, match="recursive pydantic models") as got:
        BAMLAdapter().format_field_structure(a_sig)
    assert str(got.value) == str(expected.value)


def test_baml_draws_a_model_used_twice_side_by_side() -> None:
    # DSPy never forgets a model it has drawn, so it calls this (not recursive) model recursive; we draw it.
    class Two(pydantic.BaseModel):
        first: Job
        second: Job

    sig = dspy_ash.Signature("text: str -> two: Two", custom_types={"Two": Two})
    structure = BAMLAdapter().format_field_structure(sig)
    assert structure.count("title: string,") == 2
    assert "# alias: job_title" in structure


def test_baml_parses_replies_as_json_adapter() -> None:
    o_sig, a_sig = _pair("note: str -> patient: Patient, count: int")
    reply = INPUTS["patient"].model_dump_json(by_alias=True)
    completion = f'{{"patient": {reply}, "count": "3"}}'
    expected = oracle_baml.BAMLAdapter().parse(o_sig, completion)
    got = BAMLAdapter().parse(a_sig, completion)
    assert got == expected and got["patient"] == INPUTS["patient"] and got["count"] == 3


TWO_STEP_SIGNATURES = [
    "question: str -> answer: str",
    "question: str, context: list[str] -> answer: str, score: float, ok: bool",
    "patient: Patient, note: str -> summary: str, count: int",
    "text: str -> label: Literal['a', 'b']",
]


@pytest.mark.parametrize("text", TWO_STEP_SIGNATURES)
def test_two_step_prompts_and_outputs_match_dspy(text: str) -> None:
    o_sig, a_sig = _pair(text)
    inputs = {k: INPUTS[k] for k in a_sig.input_fields}
    values = {"answer": "4", "score": 0.5, "ok": True, "count": 2, "summary": "fine", "label": "b"}
    outputs = {name: values[name] for name in a_sig.output_fields}
    demo = {**inputs, **outputs}
    main_reply = [{"free": "I think the answer is 4, with score 0.5."}]

    o_main, o_extract = OracleDummyLM(main_reply), OracleDummyLM([outputs])
    with dspy.context(lm=o_main, adapter=dspy.TwoStepAdapter(o_extract)):
        expected = dspy.Predict(o_sig, demos=[dspy.Example(**demo)])(**inputs)
    a_main, a_extract = DummyLM(main_reply), DummyLM([outputs])
    with dspy_ash.context(lm=a_main, adapter=dspy_ash.TwoStepAdapter(a_extract)):
        got = dspy_ash.Predict(a_sig, demos=[dspy_ash.Example(**demo)])(**inputs)

    assert a_main.history[-1]["messages"] == o_main.history[-1]["messages"]
    assert a_extract.history[-1]["messages"] == o_extract.history[-1]["messages"]
    assert got.toDict() == expected.toDict()


def test_two_step_refuses_a_non_lm_extraction_model() -> None:
    with pytest.raises(ValueError, match=r"extraction_model must be an instance of dspy\.BaseLM"):
        dspy_ash.TwoStepAdapter("openai/gpt-4o-mini")  # pyright: ignore[reportArgumentType]


def test_two_step_wraps_an_extraction_failure() -> None:
    sig = dspy_ash.Signature("question -> answer")
    adapter = dspy_ash.TwoStepAdapter(DummyLM([{"other": "x"}] * 2))
    with pytest.raises(dspy_ash.AdapterParseError, match="Failed to parse response from the original") as err:
        adapter.parse(sig, "main LM text")
    assert err.value.adapter_name == "TwoStepAdapter" and err.value.lm_response == "main LM text"
