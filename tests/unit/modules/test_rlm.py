"""RLM's REPL loop, run in the real sandbox with scripted LM replies."""

from __future__ import annotations

import json
from typing import Any

import pytest

import dspy_ash as dspy
from dspy_ash.errors import AdapterParseError, LMConnectionError
from dspy_ash.modules._interpreter import PythonInterpreter
from dspy_ash.modules._rlm import SUB_AGENT_INSTRUCTIONS
from dspy_ash.testing.dummy import DummyLM


class RecordingSubLM:
    """A sub-LM that answers `echo:<prompt>` (or fails for prompts containing "fail"), keeping the prompts."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    async def acall(self, prompt: str) -> list[str]:
        self.prompts.append(prompt)
        if "fail" in prompt:
            raise LMConnectionError("upstream down")
        return [f"echo:{prompt}"]


def steps(*codes: str) -> list[dict[str, str]]:
    return [{"reasoning": f"step {i + 1}", "code": code} for i, code in enumerate(codes)]


def user_message(lm: DummyLM, call: int) -> str:
    return lm.history[call]["messages"][-1]["content"]


def test_state_persists_sub_lm_is_queried_and_submit_returns_typed_outputs() -> None:
    main = DummyLM(
        steps(
            "```python\nwords = context.split()\nprint(len(words))\n```",
            "summary = llm_query('first word: ' + words[0])\nprint(summary)",
            "SUBMIT(answer=summary, count=len(words))",
        )
    )
    sub = RecordingSubLM()
    rlm = dspy.RLM("context -> answer, count: int", sub_lm=sub, max_iters=5)
    with dspy.context(lm=main):
        result = rlm(context="alpha beta gamma delta")

    assert result.answer == "echo:first word: alpha"
    assert result.count == 4 and isinstance(result.count, int)
    assert sub.prompts == ["first word: alpha"]
    assert result.final_reasoning == "step 3"
    # the fenced code is recorded stripped; each output is what the code printed
    assert result.trajectory[0]["code"] == "words = context.split()\nprint(len(words))"
    assert [t["output"] for t in result.trajectory][:2] == ["4\n", "echo:first word: alpha\n"]
    assert result.trajectory[2]["output"].startswith("FINAL: ")
    # the second prompt shows the first step's code and output, and the step counter
    second = user_message(main, 1)
    assert "=== Step 1 ===" in second and "Output (2 chars):\n4" in second
    assert "[[ ## iteration ## ]]\n2/5" in second
    assert "Variable: `context`" in second and "alpha beta gamma delta" in second


def test_errors_are_fed_back_and_the_model_recovers() -> None:
    main = DummyLM(
        steps(
            "print(1 / 0)",
            "```bash\nls\n```",
            "x = (",
            "SUBMIT('recovered')",
        )
    )
    rlm = dspy.RLM("question -> answer", max_iters=5)
    with dspy.context(lm=main):
        result = rlm(question="q")

    outputs = [t["output"] for t in result.trajectory]
    assert result.answer == "recovered"
    assert outputs[0].startswith("[Error] ZeroDivisionError")
    assert "Expected Python code but got ```bash fence" in outputs[1]
    assert result.trajectory[1]["code"] == "```bash\nls\n```"  # unstripped: it could not be stripped
    assert outputs[2].startswith("[Error]") and "syntax" in outputs[2].lower()
    assert "ZeroDivisionError" in user_message(main, 1)


def test_wrong_types_and_missing_outputs_are_reported_until_fixed() -> None:
    main = DummyLM(steps("SUBMIT(total='many', label='x')", "SUBMIT(label='x', total=3)"))
    rlm = dspy.RLM("data -> total: int, label", max_iters=4)
    with dspy.context(lm=main):
        result = rlm(data=[1, 2])

    assert (result.total, result.label) == (3, "x")
    assert result.trajectory[0]["output"].startswith("[Type Error] total: expected int")
    assert "Type: list" in user_message(main, 0)


def test_max_iterations_fall_back_to_the_extract_predictor() -> None:
    main = DummyLM([*steps("print('looking')", "print('still looking')"), {"answer": "extracted"}])
    rlm = dspy.RLM("question -> answer", max_iters=2)
    with dspy.context(lm=main):
        result = rlm(question="q")

    assert result.answer == "extracted"
    assert result.final_reasoning == "Extract forced final output"
    assert [t["output"] for t in result.trajectory] == ["looking\n", "still looking\n"]
    extract_prompt = user_message(main, 2)
    assert "=== Step 2 ===" in extract_prompt and "still looking" in extract_prompt
    assert "[[ ## iteration ## ]]" not in extract_prompt


def test_sub_lm_budget_and_batched_errors_reach_the_code() -> None:
    main = DummyLM(
        steps(
            "print(llm_query_batched(['a', 'fail b']))",
            "print(llm_query('c'))",
            "SUBMIT('done')",
        )
    )
    sub = RecordingSubLM()
    rlm = dspy.RLM("question -> answer", sub_lm=sub, max_llm_calls=2, max_iters=4)
    with dspy.context(lm=main):
        result = rlm(question="q")

    first, second = (t["output"] for t in result.trajectory[:2])
    assert first == "['echo:a', '[ERROR] upstream down']\n"
    assert "LLM call limit exceeded: 2 + 1 > 2" in second
    assert sub.prompts == ["a", "fail b"]  # the third call was refused before reaching the LM


def test_user_tools_run_on_the_host_with_positional_arguments() -> None:
    seen: list[tuple[str, int]] = []

    def lookup(key: str, times: int = 1) -> str:
        """Look a key up."""
        seen.append((key, times))
        return key.upper() * times

    main = DummyLM(steps("SUBMIT(lookup('ab', 2))"))
    rlm = dspy.RLM("question -> answer", tools=[lookup])
    with dspy.context(lm=main):
        result = rlm(question="q")

    assert result.answer == "ABAB" and seen == [("ab", 2)]
    assert (
        "- `lookup(key: string, times: integer)` - Look a key up."
        in rlm.generate_action.signature.instructions
    )


class JsonRecord(dspy.SandboxSerializable):
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def sandbox_setup(self) -> str:
        return "import json"

    def to_sandbox(self) -> bytes:
        return json.dumps(self.data).encode()

    def sandbox_assignment(self, var_name: str, data_expr: str) -> str:
        return f"{var_name} = json.loads({data_expr})"

    def rlm_preview(self, max_chars: int = 500) -> str:
        return f"JsonRecord with keys {sorted(self.data)}"


class Blob(dspy.SandboxSerializable):
    def sandbox_setup(self) -> str:
        return ""

    def to_sandbox(self) -> bytes:
        return bytes([0, 255, 7])

    def sandbox_assignment(self, var_name: str, data_expr: str) -> str:
        return f"{var_name} = list({data_expr})"

    def rlm_preview(self, max_chars: int = 500) -> str:
        return "three bytes"


def test_sandbox_serializable_inputs_are_rebuilt_in_the_sandbox() -> None:
    main = DummyLM(steps("SUBMIT(record['n'] + sum(blob))"))

    class Sig(dspy.Signature):
        record: JsonRecord = dspy.InputField()
        blob: Blob = dspy.InputField()
        answer: int = dspy.OutputField()

    rlm = dspy.RLM(Sig, max_iters=2)
    with dspy.context(lm=main):
        result = rlm(record=JsonRecord({"n": 5}), blob=Blob())

    assert result.answer == 5 + 0 + 255 + 7
    prompt = user_message(main, 0)
    assert "JsonRecord with keys ['n']" in prompt
    assert (
        "Description: Sandbox imports available:\n    import json" in prompt
    )  # indented inside the list item


def test_runtime_prompt_describes_this_sandbox_and_omits_sub_agents() -> None:
    main = DummyLM(steps("SUBMIT('x')"))
    rlm = dspy.RLM("question -> answer")
    with dspy.context(lm=main):
        rlm(question="q")

    system = main.history[0]["messages"][0]["content"]
    assert PythonInterpreter.execution_instructions in system
    assert "Sub-agents (dspy)" not in system and "`SUBMIT(answer)`" in system
    # the stored signature keeps DSPy's full text, so saved programs carry the same instructions
    assert SUB_AGENT_INSTRUCTIONS in rlm.generate_action.signature.instructions


class TrackedInterpreter(PythonInterpreter):
    closed = False

    async def ashutdown(self) -> None:
        self.closed = True
        await super().ashutdown()


def test_factory_interpreters_are_shut_down_and_a_caller_owned_one_is_kept() -> None:
    made: list[TrackedInterpreter] = []

    def factory() -> TrackedInterpreter:
        made.append(TrackedInterpreter())
        return made[-1]

    rlm = dspy.RLM("question -> answer", interpreter_factory=factory, max_iters=2)
    failing = DummyLM(
        [{"reasoning": "r"}]
    )  # no code field: the reply fails to parse after the sandbox started
    with dspy.context(lm=failing), pytest.raises(AdapterParseError):
        rlm(question="q")
    assert len(made) == 1 and made[0].closed

    own = TrackedInterpreter()
    try:
        with dspy.context(lm=DummyLM(steps("kept = question * 2\nSUBMIT(kept)"))):
            assert rlm(own, question="ab").answer == "abab"
        assert not own.closed and own.execute("kept") == "abab"  # still running, with the call's state
    finally:
        own.shutdown()
    assert len(made) == 1


async def test_acall_runs_the_same_loop() -> None:
    main = DummyLM(steps("total = sum(numbers)\nprint(total)", "SUBMIT(total)"))
    rlm = dspy.RLM("numbers: list[int] -> answer: int")
    with dspy.context(lm=main):
        result = await rlm.acall(numbers=[1, 2, 3])
    assert result.answer == 6 and result.trajectory[0]["output"] == "6\n"
