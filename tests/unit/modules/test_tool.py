from __future__ import annotations

import asyncio
import enum
import importlib
import time
from typing import Literal

import pydantic
import pytest

import dspy_ash as dspy
from dspy_ash.adapters.types._tool import Tool, ToolCalls


def get_weather(city: str, days: int = 1) -> str:
    """Get the weather for a city."""
    return f"sunny in {city} for {days}"


class Address(pydantic.BaseModel):
    street: str
    zip: int


def ship(to: Address, items: list[str]) -> str:
    return f"{len(items)} to {to.street}"


def test_schema_name_desc_and_str_match_dspy() -> None:
    tool = Tool(get_weather, arg_desc={"city": "The city"})
    assert tool.name == "get_weather"
    assert tool.desc == "Get the weather for a city."
    assert tool.args == {
        "city": {"type": "string", "description": "The city"},
        "days": {"type": "integer", "default": 1},
    }
    assert str(Tool(get_weather)) == (
        "get_weather, whose description is <desc>Get the weather for a city.</desc>. It takes arguments "
        "{'city': {'type': 'string'}, 'days': {'type': 'integer', 'default': 1}}."
    )
    assert str(Tool(lambda: 1, name="noop")) == "noop. It takes arguments {}."
    multi = Tool(lambda: 1, name="m", desc="line1\nline2")
    assert "<desc>line1  line2</desc>" in str(multi)


def test_str_and_function_call_equal_real_dspy() -> None:
    real = importlib.import_module("dspy")  # a test dependency: absent must fail, not skip
    ours, theirs = Tool(ship), real.Tool(ship)
    assert str(ours) == str(theirs)
    assert ours.format_as_litellm_function_call() == theirs.format_as_litellm_function_call()


def test_litellm_function_call_lists_required_args() -> None:
    call = Tool(get_weather).format_as_litellm_function_call()
    assert call["type"] == "function"
    assert call["function"]["parameters"]["required"] == ["city"]
    assert call["function"]["parameters"]["properties"]["days"]["default"] == 1


def test_arguments_are_validated_and_coerced() -> None:
    tool = Tool(ship)
    assert tool(to={"street": "Main", "zip": 1}, items=["a", "b"]) == "2 to Main"
    with pytest.raises(ValueError, match="Arg to is invalid"):
        tool(to={"street": "Main"}, items=[])
    with pytest.raises(ValueError, match="Arg nope is not in the tool's args"):
        tool(to={"street": "x", "zip": 1}, items=[], nope=1)
    with pytest.raises(ValueError, match="Missing required arg"):
        Tool(get_weather)()


def test_kwargs_tools_accept_unknown_args() -> None:
    def anything(**kwargs: int) -> int:
        return sum(kwargs.values())

    assert Tool(anything)(a=1, b=2) == 3


async def test_acall_runs_async_and_sync_functions() -> None:
    async def slow(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    assert await Tool(slow).acall(x=2) == 4
    assert await Tool(get_weather).acall(city="Oslo") == "sunny in Oslo for 1"


def test_sync_call_of_async_tool_needs_opt_in() -> None:
    async def slow(x: int) -> int:
        return x + 1

    with pytest.raises(ValueError, match="use `acall`"):
        Tool(slow)(x=1)
    with dspy.context(allow_tool_async_sync_conversion=True):
        assert Tool(slow)(x=1) == 2


def test_tool_events_are_emitted() -> None:
    seen: list[tuple[str, str]] = []
    with dspy.context(callbacks=[lambda e: seen.append((e.kind, e.phase))]):
        Tool(get_weather)(city="x")
    assert seen == [("tool", "start"), ("tool", "end")]


def test_tool_calls_accept_provider_and_dspy_shapes() -> None:
    calls = ToolCalls.from_dict_list(
        [
            {"name": "get_weather", "args": {"city": "a"}},
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "b"}'},
            },
        ]
    )
    assert [c.name for c in calls.tool_calls] == ["get_weather", "get_weather"]
    assert calls.tool_calls[1].id == "call_1"
    assert calls.model_dump() == {
        "tool_calls": [
            {"name": "get_weather", "args": {"city": "a"}},
            {"name": "get_weather", "args": {"city": "b"}},
        ]
    }
    assert ToolCalls.model_validate({"name": "x", "args": {}}).tool_calls[0].name == "x"
    with pytest.raises(pydantic.ValidationError):
        ToolCalls.model_validate(42)


def test_tool_calls_execute_by_name() -> None:
    calls = ToolCalls.from_dict_list([{"name": "get_weather", "args": {"city": "a"}}])
    assert calls.execute([Tool(get_weather)]) == ["sunny in a for 1"]
    assert calls.execute({"get_weather": get_weather}) == ["sunny in a for 1"]
    with pytest.raises(ValueError, match="not found"):
        calls.execute({})


async def test_tool_calls_run_concurrently() -> None:
    async def wait(seconds: float) -> float:
        await asyncio.sleep(seconds)
        return seconds

    calls = ToolCalls.from_dict_list([{"name": "wait", "args": {"seconds": 0.3}} for _ in range(5)])
    started = time.perf_counter()
    assert await calls.aexecute([Tool(wait)]) == [0.3] * 5
    assert time.perf_counter() - started < 0.9  # sequential would take 1.5 s


def test_tools_as_input_values_render_like_dspy() -> None:
    from dspy_ash.testing.dummy import DummyLM

    class WithTools(dspy.Signature):
        question: str = dspy.InputField()
        tools: list[dspy.Tool] = dspy.InputField()
        answer: str = dspy.OutputField()

    lm = DummyLM([{"answer": "x"}])
    with dspy.context(lm=lm):
        dspy.Predict(WithTools)(question="q", tools=[Tool(get_weather)])
    assert (
        '[[ ## tools ## ]]\n["get_weather, whose description is <desc>Get the weather for a city.</desc>. '
        "It takes arguments {'city': {'type': 'string'}, 'days': {'type': 'integer', 'default': 1}}.\"]"
    ) in lm.history[-1]["messages"][-1]["content"]


@pytest.mark.oracle
def test_tool_calls_output_prompt_and_schema_match_real_dspy() -> None:
    real = importlib.import_module("dspy")  # a test dependency: absent must fail, not skip
    from dspy.utils.dummies import DummyLM as RealDummyLM

    from dspy_ash.testing.dummy import DummyLM

    reply = {"calls": {"tool_calls": [{"name": "f", "args": {"x": 1}}]}}
    histories = []
    for mod, dummy in ((real, RealDummyLM), (dspy, DummyLM)):
        plan = mod.Signature(
            {"question": (str, mod.InputField()), "calls": (mod.ToolCalls, mod.OutputField())}
        )
        lm = dummy([reply])
        with mod.context(lm=lm):
            pred = mod.Predict(plan)(question="q")
        assert pred.calls.tool_calls[0].args == {"x": 1}
        histories.append([m["content"] for m in lm.history[-1]["messages"]])
    assert histories[0] == histories[1]
    assert ToolCalls.model_json_schema() == real.ToolCalls.model_json_schema()


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


def varied(
    a: int | None,
    b: list[Address],
    c: Literal["x", "y"] = "x",
    d: Color = Color.RED,
    e: dict[str, float] | None = None,
    f=3,
) -> str:  # type: ignore[no-untyped-def]
    """Many shapes.

    Second line."""
    return ""


@pytest.mark.oracle
def test_tool_schemas_match_real_dspy_for_varied_signatures() -> None:
    real = importlib.import_module("dspy")  # a test dependency: absent must fail, not skip
    ours, theirs = Tool(varied, arg_desc={"a": "an int"}), real.Tool(varied, arg_desc={"a": "an int"})
    assert ours.args == theirs.args
    assert str(ours) == str(theirs)
