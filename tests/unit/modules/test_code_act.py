"""CodeAct against the real dspy 3.4.1 (the oracle) with the same LM replies and interpreter results, and in
dspy-ash's real sandbox, where the tools are defined from their source and called by the generated code."""

from __future__ import annotations

from typing import Any

import dspy as _dspy  # the oracle, a test dependency: absent must fail, not skip
import pytest
from dspy.utils.dummies import DummyLM as _OracleDummyLM

import dspy_ash
from dspy_ash.modules._code_act import CodeAct
from dspy_ash.testing import DummyLM

dspy: Any = _dspy
OracleDummyLM: Any = _OracleDummyLM


def add(a: float, b: float) -> float:
    "add two numbers"
    return a + b


def extremes(numbers: str) -> dict[str, float]:
    """The largest and smallest of comma-separated numbers."""
    values = [float(x) for x in numbers.split(",")]
    return {"maximum": max(values), "minimum": min(values)}


class ScriptedInterpreter:
    """DSPy's interpreter protocol (sync `execute` / `shutdown`): replays results, records the code."""

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

    def shutdown(self) -> None:
        self.shut = True


STEPS = [
    {"generated_code": "```python\nparse(error\n```", "finished": False},
    {"generated_code": "", "finished": False},
    {"generated_code": "```python\nresult = add(1, 1)\nprint(result)\n```", "finished": False},
    {"generated_code": "```python\nprint(extremes('2, 3, 5'))\n```", "finished": True},
]


def test_prompts_trajectory_and_interpreter_calls_match_dspy() -> None:
    replies = [*STEPS, {"reasoning": "done", "answer": "2"}]
    # Tool definitions, then one result per executed step: a syntax error, then two outputs.
    results = lambda errors: ["", "", errors, "2\n", "{'maximum': 5.0, 'minimum': 2.0}\n"]  # noqa: E731

    o_lm, o_interp = OracleDummyLM(replies), ScriptedInterpreter(results(SyntaxError("bad syntax")))
    with pytest.warns(DeprecationWarning, match="CodeAct is deprecated"):
        o_prog = dspy.CodeAct("question -> answer", tools=[add, extremes], max_iters=6)
    with dspy.context(lm=o_lm):
        expected = o_prog(o_interp, question="What is 1+1?")

    a_lm, a_interp = DummyLM(replies), ScriptedInterpreter(results(SyntaxError("bad syntax")))
    a_prog = CodeAct("question -> answer", tools=[add, extremes], max_iters=6)
    with dspy_ash.context(lm=a_lm):
        got = a_prog(a_interp, question="What is 1+1?")

    assert [h["messages"] for h in a_lm.history] == [h["messages"] for h in o_lm.history]
    assert a_interp.codes == o_interp.codes and a_interp.codes[0].startswith("def add(")
    assert got.trajectory == expected.trajectory
    assert got.answer == expected.answer == "2"
    assert not a_interp.shut  # a caller-owned interpreter stays open


def test_refuses_callable_objects_as_dspy_does() -> None:
    class Adder:
        def __call__(self, a: int, b: int) -> int:
            return a + b

    with pytest.raises(ValueError, match=r"CodeAct only accepts functions and not callable objects\."):
        CodeAct("question -> answer", tools=[Adder()])


def test_keyword_interpreter_is_refused_and_factory_interpreters_are_shut_down() -> None:
    made: list[ScriptedInterpreter] = []

    def factory() -> ScriptedInterpreter:
        made.append(ScriptedInterpreter(["", "2\n"]))
        return made[-1]

    prog = CodeAct("question -> answer", tools=[add], interpreter_factory=factory)  # pyright: ignore[reportArgumentType]
    with pytest.raises(TypeError, match="first positional argument"):
        prog(question="q", interpreter=ScriptedInterpreter([]))
    assert made == []
    lm = DummyLM(
        [{"generated_code": "print(add(1, 1))", "finished": True}, {"reasoning": "r", "answer": "2"}]
    )
    with dspy_ash.context(lm=lm):
        assert prog(question="q").answer == "2"
    assert len(made) == 1 and made[0].shut and made[0].codes[1] == "print(add(1, 1))"


def test_tools_run_inside_the_real_sandbox() -> None:
    def where() -> str:
        import sys

        return sys.argv[0]  # the sandbox runs `python -c <worker>`: argv[0] is "-c", the host's is pytest

    lm = DummyLM(
        [
            {"generated_code": "```python\nprint(unknown + 1)\n```", "finished": False},
            {"generated_code": "```python\nprint(add(1, 1), where())\n```", "finished": True},
            {"reasoning": "r", "answer": "2"},
        ]
    )
    with dspy_ash.context(lm=lm):
        out = CodeAct("question -> answer", tools=[add, where])(question="What is 1+1?")
    assert out.trajectory == {
        "generated_code_0": "print(unknown + 1)",
        "observation_0": "Failed to execute the generated code: NameError: name 'unknown' is not defined",
        "generated_code_1": "print(add(1, 1), where())",
        "code_output_1": '"2 -c\\n"',
    }
    assert "[[ ## code_output_1 ## ]]" in lm.history[-1]["messages"][-1]["content"]
