"""The tool turns of a conversation history, as DSPy 3.4.1 replays them.

A History message may hold a `ToolCalls` whose `tool_call_results` say what running the calls returned.
With native function calling the turn is replayed as the provider's own messages: an assistant message
carrying `tool_calls`, then one `tool` message per result (only when every call has an id and the results
answer exactly those ids). Without it, the calls stay in the assistant's text and the results follow as a
user message with a `tool_call_results` field.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from dspy_ash.adapters._formatting import serialize_for_json
from dspy_ash.adapters.types._tool import ToolCall, ToolCallResults, ToolCalls
from dspy_ash.signatures import InputField, Signature


def tool_calls_in(message: dict[str, Any]) -> tuple[str | None, ToolCalls | None]:
    """The field of a history message that holds tool calls (a ToolCalls or its dict), and the calls."""
    for name, value in message.items():
        if isinstance(value, ToolCalls) or (isinstance(value, dict) and "tool_calls" in value):
            return name, ToolCalls.model_validate(value)
    return None, None


def results_of(tool_calls: ToolCalls | None) -> ToolCallResults | None:
    if tool_calls is None or tool_calls.tool_call_results is None:
        return None
    return ToolCallResults.model_validate(tool_calls.tool_call_results)


def results_match_calls(tool_calls: ToolCalls, results: ToolCallResults) -> bool:
    """Every call has an id and the results answer exactly those ids, in order (what providers require)."""
    ids = [call.id for call in tool_calls.tool_calls]
    return all(ids) and ids == [result.call_id for result in results.tool_call_results]


def openai_tool_call(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {
            "name": call.name,
            "arguments": json.dumps(serialize_for_json(call.args), ensure_ascii=False),
        },
    }


def tool_messages(results: ToolCallResults) -> list[dict[str, Any]]:
    return [
        {"role": "tool", "tool_call_id": r.call_id, "name": r.name, "content": _result_content(r.value)}
        for r in results.tool_call_results
    ]


@functools.cache
def results_signature() -> Any:
    """The one-field signature the results of a text-replayed tool turn are formatted with."""
    return Signature({"tool_call_results": (ToolCallResults, InputField())})


def _result_content(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(serialize_for_json(value), ensure_ascii=False)
