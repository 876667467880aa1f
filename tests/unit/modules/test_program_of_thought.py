from __future__ import annotations

import importlib
from typing import Any

import pytest

import dspy_ash as dspy
from dspy_ash.modules._interpreter import CodeExecutionError, FinalOutput
from dspy_ash.testing.dummy import DummyLM


class ScriptedInterpreter:
    """Stands in for the sandbox: replays results (or raises) in order, records the code."""

    def __init__(self, results: list[Any]) -> None:
        self.results = list(results)
        self.codes: list[str] = []
        self.shut = False

    @property
    def tools(self) -> dict[str, Any]:
        return {}

    def start(self) -> None:
        pass

    def execute(self, code: str, variables: dict[str, Any] | None = None) -> Any:
        self.codes.append(code)
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    async def aexecute(self, code: str, variables: dict[str, Any] | None = None) -> Any:
        return self.execute(code, variables)

    def shutdown(self) -> None:
        self.shut = True

    async def ashutdown(self) -> None:
        self.shut = True


def test_generate_execute_answer_in_the_real_sandbox() -> None:
    lm = DummyLM(
        [
            {"reasoning": "r", "generated_code": "```python\nimport math\nresult = math.factorial(5)\n```"},
            {"reasoning": "r", "answer": "120"},
        ]
    )
    dspy.configure(lm=lm)
    out = dspy.ProgramOfThought("question -> answer")(question="5!?")
    assert out.answer == "120"
    last_user = lm.history[-1]["messages"][-1]["content"]
    assert "[[ ## final_generated_code ## ]]\nimport math\nresult = math.factorial(5)\nresult" in last_user
    assert "[[ ## code_output ## ]]\n120" in last_user


def test_errors_go_back_to_the_model_then_max_iters_raises() -> None:
    bad = {"reasoning": "r", "generated_code": "```python\nx = 1/0\n```"}
    lm = DummyLM([bad, bad, bad])
    dspy.configure(lm=lm)
    with pytest.raises(RuntimeError, match=r"Max hops reached.*ZeroDivisionError"):
        dspy.ProgramOfThought("question -> answer", max_iters=3)(question="q")
    assert len(lm.history) == 3
    regen = lm.history[1]["messages"][-1]["content"]
    assert "[[ ## previous_code ## ]]\nx = 1/0\nx" in regen
    assert "[[ ## error ## ]]\nZeroDivisionError: division by zero" in regen


def test_regenerated_code_recovers() -> None:
    interp = ScriptedInterpreter(
        [CodeExecutionError("NameError: name 'y' is not defined"), FinalOutput({"answer": 7})]
    )
    lm = DummyLM(
        [
            {"reasoning": "r", "generated_code": "```python\nSUBMIT({'answer': y})\n```"},
            {"reasoning": "r", "generated_code": "```python\nSUBMIT({'answer': 7})\n```"},
            {"reasoning": "r", "answer": "7"},
        ]
    )
    dspy.configure(lm=lm)
    pot = dspy.ProgramOfThought("question -> answer", interpreter_factory=lambda: interp)
    assert pot(question="q").answer == "7"
    assert interp.shut  # the module owns factory-made interpreters
    assert '[[ ## code_output ## ]]\n{"answer": 7}' in lm.history[-1]["messages"][-1]["content"]


def test_caller_owned_interpreter_is_not_shut_down() -> None:
    interp = ScriptedInterpreter([3])
    dspy.configure(
        lm=DummyLM([{"reasoning": "r", "generated_code": "1 + 2"}, {"reasoning": "r", "answer": "3"}])
    )
    assert dspy.ProgramOfThought("question -> answer")(interp, question="q").answer == "3"
    assert not interp.shut


def test_malformed_code_reply_is_reported_without_running() -> None:
    interp = ScriptedInterpreter([5])
    lm = DummyLM(
        [
            {"reasoning": "r", "generated_code": "a = 1 = 2"},
            {"reasoning": "r", "generated_code": "5"},
            {"reasoning": "r", "answer": "5"},
        ]
    )
    dspy.configure(lm=lm)
    dspy.ProgramOfThought("question -> answer", interpreter_factory=lambda: interp)(question="q")
    assert interp.codes == ["5"]
    assert "Error: Code format is not correct." in lm.history[1]["messages"][-1]["content"]


@pytest.mark.oracle
def test_prompts_match_the_real_dspy_package() -> None:
    real = importlib.import_module("dspy")  # a test dependency: absent must fail, not skip
    from dspy.primitives.code_interpreter import CodeExecutionError as RealError
    from dspy.utils.dummies import DummyLM as RealDummyLM

    answers = [
        {"reasoning": "r", "generated_code": "```python\nx = 1/0\n```"},
        {"reasoning": "r", "generated_code": "```python\nanswer = 4\n```"},
        {"reasoning": "r", "answer": "4"},
    ]
    theirs_lm = RealDummyLM([dict(a) for a in answers])
    with real.context(lm=theirs_lm), pytest.warns(DeprecationWarning):
        pot = real.ProgramOfThought(
            "question -> answer",
            interpreter_factory=lambda: ScriptedInterpreter(
                [RealError("ZeroDivisionError: division by zero"), 4]
            ),
        )
    with real.context(lm=theirs_lm):
        pot(question="2+2?")
    ours_lm = DummyLM([dict(a) for a in answers])
    with dspy.context(lm=ours_lm):
        ours = dspy.ProgramOfThought(
            "question -> answer",
            interpreter_factory=lambda: ScriptedInterpreter(
                [CodeExecutionError("ZeroDivisionError: division by zero"), 4]
            ),
        )
        ours(question="2+2?")
    assert [[m["content"] for m in h["messages"]] for h in ours_lm.history] == [
        [m["content"] for m in h["messages"]] for h in theirs_lm.history
    ]
    assert set(ours.dump_state()) == set(pot.dump_state())


def test_configured_interpreter_factory_is_used() -> None:
    interp = ScriptedInterpreter([9])
    dspy.configure(
        lm=DummyLM([{"reasoning": "r", "generated_code": "3 * 3"}, {"reasoning": "r", "answer": "9"}]),
        interpreter_factory=lambda: interp,
    )
    assert dspy.ProgramOfThought("question -> answer")(question="q").answer == "9"
    assert interp.codes == ["3 * 3"] and interp.shut
