"""Tool results in conversation history (`ToolCalls.tool_call_results`) against the real dspy 3.4.1 (the
oracle): every adapter, with and without native function calling, formats the same messages byte for byte."""

from __future__ import annotations

from typing import Any

import dspy as _dspy  # the oracle, a test dependency: absent must fail, not skip
import pytest

import dspy_ash

dspy: Any = _dspy

pytestmark = pytest.mark.oracle


def search(query: str) -> str:
    """Search the web."""
    return query


def _format(mod: Any, adapter_name: str, native: bool, ids: tuple[str | None, str | None]) -> Any:
    agent = mod.Signature(
        {
            "question": (str, mod.InputField()),
            "history": (mod.History, mod.InputField()),
            "tools": (list[mod.Tool], mod.InputField()),
            "next_thought": (str, mod.OutputField()),
            "tool_calls": (mod.ToolCalls, mod.OutputField()),
        },
        "Act with the tools.",
    )
    calls = [
        mod.ToolCalls.ToolCall(id=ids[0], name="search", args={"query": "cats"}),
        mod.ToolCalls.ToolCall(id=ids[1], name="search", args={"query": "dogs & <wolves>"}),
    ]
    results = mod.ToolCallResults.from_tool_calls_and_values(
        calls, ["cat", {"n": 2}], is_errors=[False, True]
    )
    history = mod.History(
        messages=[
            {
                "question": "Q1",
                "next_thought": "Search.",
                "tool_calls": mod.ToolCalls(tool_calls=calls, tool_call_results=results),
            },
            {"next_thought": "Only a thought."},
            {"question": "Q1b", "next_thought": "Plain.", "tool_calls": mod.ToolCalls(tool_calls=calls[:1])},
        ]
    )
    adapter = getattr(mod, adapter_name)(use_native_function_calling=native)
    return adapter.format(agent, [], {"question": "Q2", "history": history, "tools": [mod.Tool(search)]})


@pytest.mark.parametrize("adapter_name", ["ChatAdapter", "JSONAdapter", "XMLAdapter"])
@pytest.mark.parametrize("native", [False, True])
@pytest.mark.parametrize("ids", [("call_1", "call_2"), ("call_1", None)])
def test_tool_result_history_matches_dspy(
    adapter_name: str, native: bool, ids: tuple[str | None, str | None]
) -> None:
    assert _format(dspy_ash, adapter_name, native, ids) == _format(dspy, adapter_name, native, ids)


def test_tool_call_results_validation_matches_dspy() -> None:
    call = dspy_ash.ToolCalls.ToolCall(id="c", name="search", args={})
    with pytest.raises(ValueError, match="same length"):
        dspy_ash.ToolCallResults.from_tool_calls_and_values([call], [])
    with pytest.raises(ValueError, match="is_errors"):
        dspy_ash.ToolCallResults.from_tool_calls_and_values([call], [1], is_errors=[])
    one = dspy_ash.ToolCallResults.model_validate({"name": "search", "value": 3})
    assert (
        one.model_dump() == dspy.ToolCallResults.model_validate({"name": "search", "value": 3}).model_dump()
    )
    with pytest.raises(ValueError, match="invalid value"):
        dspy_ash.ToolCallResults.model_validate("nope")
