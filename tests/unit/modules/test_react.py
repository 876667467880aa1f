from __future__ import annotations

import asyncio
import importlib
import logging
import re
import time
from pathlib import Path
from typing import Any

import pytest

import dspy_ash as dspy
from dspy_ash.errors import ContextWindowExceededError
from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._types import Choice, LMRequest, LMResponse
from dspy_ash.testing.dummy import DummyLM

REFERENCE = Path(__file__).parents[2] / "fixtures" / "react_prompts.txt"  # recorded from DSPy 3.4.1


def get_weather(city: str) -> str:
    """Get the weather for a city."""
    return f"sunny in {city}"


def _weather_lm() -> DummyLM:
    return DummyLM(
        [
            {
                "next_thought": "check weather",
                "next_tool_name": "get_weather",
                "next_tool_args": {"city": "Paris"},
            },
            {"next_thought": "done", "next_tool_name": "finish", "next_tool_args": {}},
            {"reasoning": "it is sunny", "answer": "sunny"},
        ]
    )


def _reference_sections() -> dict[str, str]:
    text = REFERENCE.read_text().split("=== fallback test")[0]
    parts = text.split("=== ")
    sections = {}
    for part in parts[1:]:
        title, _, body = part.partition("\n")
        sections[title] = body
    return sections


def test_prompts_match_dspy_byte_for_byte() -> None:
    lm = _weather_lm()
    dspy.configure(lm=lm)
    react = dspy.ReAct("question -> answer", tools=[get_weather], max_iters=5)
    out = react(question="Weather in Paris?")
    ref = _reference_sections()
    assert lm.history[1]["messages"][0]["content"] + "\n" == ref["react system msg"]
    assert lm.history[1]["messages"][-1]["content"] + "\n" == ref["react user msg (iter 2)"]
    names = [n for n, _ in react.named_predictors()]
    assert (
        lm.history[2]["messages"][-1]["content"] + "\n" + f"named_predictors: {names}\n"
        == ref["extract user msg"]
    )
    assert out.answer == "sunny" and out.reasoning == "it is sunny"
    assert out.trajectory == {
        "thought_0": "check weather",
        "tool_name_0": "get_weather",
        "tool_args_0": {"city": "Paris"},
        "observation_0": "sunny in Paris",
        "thought_1": "done",
        "tool_name_1": "finish",
        "tool_args_1": {},
        "observation_1": "Completed.",
    }


@pytest.mark.oracle
def test_prompts_match_the_real_dspy_package() -> None:
    real = importlib.import_module("dspy")  # a test dependency: absent must fail, not skip
    from dspy.utils.dummies import DummyLM as RealDummyLM

    answers = [
        {"next_thought": "look", "next_tool_name": "get_weather", "next_tool_args": {"city": "Rome"}},
        {"next_thought": "oops", "next_tool_name": "get_weather", "next_tool_args": {"town": "Rome"}},
        {"next_thought": "done", "next_tool_name": "finish", "next_tool_args": {}},
        {"reasoning": "r", "answer": "3"},
    ]
    theirs_lm = RealDummyLM([dict(a) for a in answers])
    with real.context(lm=theirs_lm):
        real.ReAct("question, context -> answer: int", tools=[get_weather], max_iters=4)(
            question="q", context="c"
        )
    ours_lm = DummyLM([dict(a) for a in answers])
    with dspy.context(lm=ours_lm):
        dspy.ReAct("question, context -> answer: int", tools=[get_weather], max_iters=4)(
            question="q", context="c"
        )
    assert len(ours_lm.history) == len(theirs_lm.history) == 4
    for ours, theirs in zip(ours_lm.history, theirs_lm.history, strict=True):
        ours_msgs = [m["content"] for m in ours["messages"]]
        theirs_msgs = [m["content"] for m in theirs["messages"]]
        assert [_strip_traceback(m) for m in ours_msgs] == [_strip_traceback(m) for m in theirs_msgs]


def _strip_traceback(text: str) -> str:
    """The error observation embeds a traceback whose file paths differ; keep its first and last line."""

    def keep_ends(match: re.Match[str]) -> str:
        lines = match.group(1).strip().splitlines()
        return f"Execution error in get_weather: {lines[0]} ... {lines[-1]}"

    return re.sub(
        r"Execution error in get_weather:(.*?)(?=\n\n(?:\[\[ ## |Respond with))", keep_ends, text, flags=re.S
    )


def test_instructions_keep_user_instructions_and_list_tools() -> None:
    class QA(dspy.Signature):
        """Answer briefly."""

        question: str = dspy.InputField()
        answer: str = dspy.OutputField()

    react = dspy.ReAct(QA, tools=[get_weather])
    instructions = react.react.signature.instructions
    assert instructions.startswith("Answer briefly.\n\nYou are an Agent.")
    assert "(1) get_weather, whose description" in instructions
    assert "(2) finish, whose description" in instructions
    assert list(react.tools) == ["get_weather", "finish"]
    assert react.extract.predict.signature.instructions == "Answer briefly."


def test_failing_tool_becomes_an_observation() -> None:
    def broken(city: str) -> str:
        raise RuntimeError("service down")

    lm = DummyLM(
        [
            {"next_thought": "t", "next_tool_name": "broken", "next_tool_args": {"city": "x"}},
            {"next_thought": "t", "next_tool_name": "broken", "next_tool_args": {"zip": 1}},
            {"next_thought": "t", "next_tool_name": "finish", "next_tool_args": {}},
            {"reasoning": "r", "answer": "gave up"},
        ]
    )
    dspy.configure(lm=lm)
    out = dspy.ReAct("question -> answer", tools=[broken])(question="q")
    assert out.trajectory["observation_0"].startswith("Execution error in broken: \nTraceback")
    assert "RuntimeError: service down" in out.trajectory["observation_0"]
    assert "Arg zip is not in the tool's args." in out.trajectory["observation_1"]
    assert out.answer == "gave up"


def test_loop_stops_at_max_iters_and_call_time_override() -> None:
    step = {"next_thought": "again", "next_tool_name": "get_weather", "next_tool_args": {"city": "x"}}
    lm = DummyLM([step] * 3 + [{"reasoning": "r", "answer": "a"}])
    dspy.configure(lm=lm)
    react = dspy.ReAct("question -> answer", tools=[get_weather], max_iters=10)
    out = react(question="q", max_iters=3)
    assert len(lm.history) == 4
    assert sorted(k for k in out.trajectory if k.startswith("thought_")) == [
        "thought_0",
        "thought_1",
        "thought_2",
    ]


def test_invalid_tool_name_ends_the_loop_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    lm = DummyLM(
        [
            {"next_thought": "t", "next_tool_name": "no_such_tool", "next_tool_args": {}},
            {
                "next_thought": "t",
                "next_tool_name": "no_such_tool",
                "next_tool_args": {},
            },  # JSON fallback retry
            {"reasoning": "r", "answer": "a"},
        ]
    )
    dspy.configure(lm=lm)
    with caplog.at_level(logging.WARNING, logger="dspy_ash.react"):
        out = dspy.ReAct("question -> answer", tools=[get_weather])(question="q")
    assert out.trajectory == {}
    assert out.answer == "a"
    assert "Agent failed to select a valid tool" in caplog.text


class _WindowLM(BaseLM):
    """Raises ContextWindowExceededError while the prompt is longer than `limit` characters."""

    def __init__(self, replies: list[str], limit: int) -> None:
        super().__init__("window")
        self.replies = list(replies)
        self.limit = limit
        self.rejected = 0

    async def request(self, req: LMRequest) -> LMResponse:
        size = sum(len(str(m["content"])) for m in req.messages)
        if size > self.limit:
            self.rejected += 1
            raise ContextWindowExceededError("too long", status=400)
        return LMResponse(choices=[Choice(text=self.replies.pop(0))])


def _step(tool: str, args: str) -> str:
    return (
        f"[[ ## next_thought ## ]]\nt\n\n[[ ## next_tool_name ## ]]\n{tool}\n\n"
        f"[[ ## next_tool_args ## ]]\n{args}\n\n[[ ## completed ## ]]"
    )


def test_context_window_overflow_drops_the_oldest_tool_call() -> None:
    def big(n: int) -> str:
        return "x" * 1500

    replies = [
        _step("big", '{"n": 1}'),
        _step("big", '{"n": 2}'),
        _step("finish", "{}"),
        "[[ ## reasoning ## ]]\nr\n\n[[ ## answer ## ]]\nok\n\n[[ ## completed ## ]]",
    ]
    lm = _WindowLM(replies, limit=4200)
    dspy.configure(lm=lm)
    out = dspy.ReAct("question -> answer", tools=[big])(question="q")
    assert lm.rejected >= 1
    assert out.answer == "ok"
    assert "thought_0" not in out.trajectory  # the oldest call was dropped to fit


def test_context_window_that_never_fits_ends_the_trajectory() -> None:
    lm = _WindowLM([], limit=10)
    dspy.configure(lm=lm)
    with pytest.raises(ContextWindowExceededError):
        dspy.ReAct("question -> answer", tools=[get_weather])(question="q")


async def test_aforward_awaits_async_tools_and_keeps_the_loop_free() -> None:
    async def slow_lookup(key: str) -> str:
        await asyncio.sleep(0.2)
        return key.upper()

    def lm() -> DummyLM:
        return DummyLM(
            [
                {"next_thought": "t", "next_tool_name": "slow_lookup", "next_tool_args": {"key": "a"}},
                {"next_thought": "t", "next_tool_name": "finish", "next_tool_args": {}},
                {"reasoning": "r", "answer": "A"},
            ]
        )

    react = dspy.ReAct("question -> answer", tools=[slow_lookup])

    async def one() -> Any:
        with dspy.context(lm=lm()):
            return await react.acall(question="q")

    started = time.perf_counter()
    outs = await asyncio.gather(*(one() for _ in range(10)))
    assert all(o.trajectory["observation_0"] == "A" for o in outs)
    assert time.perf_counter() - started < 1.5  # ten agents in parallel, not 10 x 0.2 s


def test_saved_state_keys_match_dspy() -> None:
    react = dspy.ReAct("question -> answer", tools=[get_weather])
    assert set(react.dump_state()) == {"react", "extract.predict"}


def test_native_function_calling_needs_lm_support_else_dspy_protocol() -> None:
    lm = _weather_lm()
    assert not lm.supports_function_calling
    with dspy.context(lm=lm, adapter=dspy.ChatAdapter(use_native_function_calling=True)):
        out = dspy.ReAct("question -> answer", tools=[get_weather])(question="Weather in Paris?")
    assert out.trajectory["tool_name_0"] == "get_weather"
    assert "tools" not in lm.history[0]["kwargs"]
    assert "next_tool_name" in lm.history[0]["messages"][0]["content"]
