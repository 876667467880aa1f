"""Anthropic Messages over a real socket: system placement, headers, blocks, usage with cache tokens."""

from __future__ import annotations

import pytest
from wire_fakes import API_KEY

from dspy_ash.lm._usage import track_usage
from dspy_ash.testing.fake_servers import FakeAnthropicServer, Reply


async def test_system_prompt_moves_to_the_top_level(anthropic_server: FakeAnthropicServer, make_lm) -> None:
    lm = make_lm(
        "anthropic/claude-sonnet-4-5",
        anthropic_server,
        temperature=0.0,
        max_tokens=64,
        presence_penalty=0.5,
        stop=["END"],
    )
    await lm.acall(
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": [{"type": "text", "text": "again"}]},
        ]
    )
    sent = anthropic_server.requests[0]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == API_KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in sent.headers
    assert sent.body == {
        "model": "claude-sonnet-4-5",
        "system": "You are terse.",
        "max_tokens": 64,
        "temperature": 0.0,
        "stop_sequences": ["END"],
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": [{"type": "text", "text": "again"}]},
        ],
    }


async def test_default_max_tokens_and_n_fan_out(anthropic_server: FakeAnthropicServer, make_lm) -> None:
    lm = make_lm("anthropic/claude-3-5-haiku", anthropic_server)
    outputs = await lm.acall("hi", n=3)
    assert len(outputs) == 3
    assert len(anthropic_server.requests) == 3
    assert all(r.body["max_tokens"] == 4096 and "n" not in r.body for r in anthropic_server.requests)


async def test_usage_with_cache_tokens_and_cost(make_lm) -> None:
    async with FakeAnthropicServer(
        [Reply("ok", usage={"input_tokens": 100, "output_tokens": 50})],
        cache_read_tokens=1000,
        cache_creation_tokens=10,
    ) as server:
        lm = make_lm("anthropic/claude-3-5-haiku", server)
        with track_usage() as tracker:
            await lm.acall("hi")
        usage = lm.history[-1]["usage"]
        assert usage == {
            "prompt_tokens": 1110,
            "completion_tokens": 50,
            "total_tokens": 1160,
            "cached_tokens": 1000,
        }
        # claude-3-5-haiku: 0.80 in, 4.00 out, 0.08 cache read (per million)
        expected = (110 * 0.80 + 1000 * 0.08 + 50 * 4.00) / 1e6
        assert lm.history[-1]["cost"] == pytest.approx(expected)
        assert tracker.get_total_tokens()["anthropic/claude-3-5-haiku"]["cost"] == pytest.approx(expected)


async def test_tools_translate_both_ways(make_lm) -> None:
    call = {"id": "toolu_1", "type": "function", "function": {"name": "search", "arguments": '{"q": "x"}'}}
    async with FakeAnthropicServer([Reply("", tool_calls=[call])]) as server:
        lm = make_lm("anthropic/claude-3-5-haiku", server)
        tools = [
            {
                "type": "function",
                "function": {"name": "search", "description": "find", "parameters": {"type": "object"}},
            }
        ]
        outputs = await lm.acall(
            messages=[
                {"role": "user", "content": "find x"},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "found"},
            ],
            tools=tools,
            tool_choice="required",
        )
        body = server.requests[0].body
        assert body["tools"] == [
            {"name": "search", "description": "find", "input_schema": {"type": "object"}}
        ]
        assert body["tool_choice"] == {"type": "any"}
        assert body["messages"][1]["content"] == [
            {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {"q": "x"}}
        ]
        assert body["messages"][2] == {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "found"}],
        }
        assert outputs == [{"text": "", "tool_calls": [call]}]
