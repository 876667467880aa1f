"""Declarative program specs: validation names what is wrong; building gives a runnable engine module."""

from __future__ import annotations

from typing import Any

import pytest

import dspy_ash
from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._types import Choice, LMRequest, LMResponse
from dspy_ash.programs import build_program, validate_spec
from dspy_ash.programs._declarative import MAX_LOOP_ITERATIONS
from dspy_ash.store import InvalidSpecError

MULTI_HOP = {
    "inputs": ["question"],
    "steps": [
        {
            "type": "loop",
            "id": "hops",
            "max_iterations": 2,
            "accumulate": {"context": "search.passages"},
            "steps": [
                {
                    "type": "chain_of_thought",
                    "id": "query",
                    "signature": "context: list[str], question -> query",
                },
                {"type": "retrieve", "id": "search", "query": "query.query", "k": 2},
            ],
        },
        {
            "type": "chain_of_thought",
            "id": "answer",
            "signature": "context: list[str], question -> answer",
            "instructions": "Answer from the context.",
        },
    ],
    "outputs": {"answer": "answer.answer", "context": "context"},
}


class FieldsLM(BaseLM):
    """Replies with every field these programs ask for, and remembers the prompts."""

    def __init__(self) -> None:
        super().__init__("fake/fields", cache=False)
        self.prompts: list[list[dict[str, Any]]] = []

    async def request(self, req: LMRequest) -> LMResponse:
        self.prompts.append(req.messages)
        n = len(self.prompts)
        text = (
            f"[[ ## reasoning ## ]]\nstep {n}\n\n[[ ## query ## ]]\nquery {n}\n\n"
            f"[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"
        )
        return LMResponse(choices=[Choice(text=text)])


def test_a_valid_spec_round_trips() -> None:
    spec = validate_spec(MULTI_HOP)
    assert validate_spec(spec.model_dump(mode="json")) == spec


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        (
            lambda s: s["steps"][1].update(signature="context, question -> answer, answer"),
            "steps.1.signature",
            "",
        ),
        (lambda s: s["steps"][1].update(signature="no arrow here"), "steps.1.signature", "->"),
        (
            lambda s: s["steps"][1].update(inputs={"question": "nowhere"}),
            "steps.1.inputs.question",
            "not defined",
        ),
        (lambda s: s["steps"][1].update(inputs={"bogus": "question"}), "steps.1", "does not take"),
        (lambda s: s["steps"][1].update(id="hops"), "steps.1", "duplicate"),
        (lambda s: s["steps"][1].update(id="not-an-identifier"), "steps.1", ""),
        (lambda s: s["steps"][1].update(id="forward"), "steps.1", "taken"),
        (lambda s: s["steps"][1].update(id="_private"), "steps.1", "taken"),
        (lambda s: s["steps"][0].update(max_iterations=MAX_LOOP_ITERATIONS + 1), "steps.0", ""),
        (lambda s: s["steps"][0].update(max_iterations=0), "steps.0", ""),
        (lambda s: s["steps"][1].update(type="python", code="import os"), "steps.1", ""),
        (lambda s: s["steps"][1].update(exec="print(1)"), "steps.1", ""),
        (lambda s: s.update(outputs={"answer": "answer.nothing"}), "outputs.answer", "not defined"),
        (
            lambda s: s["steps"][0]["steps"][1].update(query="answer.answer"),
            "steps.0.steps.1.query",
            "not defined",
        ),
    ],
)
def test_invalid_specs_say_where(change: Any, where: str, message: str) -> None:
    import copy

    spec = copy.deepcopy(MULTI_HOP)
    change(spec)
    with pytest.raises(InvalidSpecError) as info:
        validate_spec(spec)
    assert info.value.location is not None and info.value.location.startswith(where), str(info.value)
    assert message in str(info.value)


def test_a_spec_without_steps_is_refused() -> None:
    with pytest.raises(InvalidSpecError) as info:
        validate_spec({"inputs": ["q"], "steps": [], "outputs": {"a": "q"}})
    assert info.value.location == "steps"


def test_signature_types_are_parsed_not_evaluated() -> None:
    spec = {
        "inputs": ["q"],
        "steps": [{"type": "predict", "id": "p", "signature": "q: __import__('os').system('true') -> a"}],
        "outputs": {"a": "p.a"},
    }
    with pytest.raises(InvalidSpecError):
        validate_spec(spec)


async def test_built_multi_hop_program_runs_and_saves_in_dspy_shape() -> None:
    lm = FieldsLM()
    searched: list[str] = []

    def rm(query: str, k: int = 3) -> list[str]:
        searched.append(query)
        return [f"{query} / passage {i}" for i in range(k)]

    program = build_program(MULTI_HOP)
    with dspy_ash.context(lm=lm, rm=rm):
        result = await program.acall(question="Capital of France?")
    assert result.answer == "Paris"
    assert searched == ["query 1", "query 2"]  # two hops, each retrieving with the query it wrote
    assert result.context == [
        "query 1 / passage 0",
        "query 1 / passage 1",
        "query 2 / passage 0",
        "query 2 / passage 1",
    ]
    assert len(lm.prompts) == 3
    assert "query 2 / passage 1" in lm.prompts[-1][-1]["content"]  # the answer step saw all hops' context
    state = program.dump_state()
    assert [k for k in state if k != "metadata"] == ["query.predict", "search", "answer.predict"]
    assert state["answer.predict"]["signature"]["instructions"] == "Answer from the context."


def test_built_program_runs_synchronously_too() -> None:
    spec = {
        "inputs": ["question"],
        "steps": [{"type": "predict", "id": "draft", "signature": "question -> answer"}],
        "outputs": {"answer": "draft.answer"},
    }
    with dspy_ash.context(lm=FieldsLM()):
        assert build_program(spec)(question="q").answer == "Paris"


def test_missing_inputs_are_reported() -> None:
    spec = {
        "inputs": ["question"],
        "steps": [{"type": "predict", "id": "draft", "signature": "question -> answer"}],
        "outputs": {"answer": "draft.answer"},
    }
    with dspy_ash.context(lm=FieldsLM()), pytest.raises(ValueError, match="question"):
        build_program(spec)(query="q")
