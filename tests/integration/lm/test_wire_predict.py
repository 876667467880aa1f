"""End to end: Predict and ChainOfThought format a prompt, our LM sends it, the fake server answers
the requested fields, the adapter parses them."""

from __future__ import annotations

import dspy_ash
from dspy_ash.testing.fake_servers import FakeAnthropicServer, FakeOpenAIServer


async def test_predict_over_openai(make_lm) -> None:
    async with FakeOpenAIServer() as server:
        lm = make_lm("openai/gpt-4o-mini", server)
        with dspy_ash.context(lm=lm):
            pred = await dspy_ash.Predict("question -> answer").acall(question="What is 2+2?")
            cot = await dspy_ash.ChainOfThought("question -> answer").acall(question="Why?")
        assert pred.answer == "answer for What is 2+2?"
        assert cot.reasoning == "reasoning for Why?" and cot.answer == "answer for Why?"
        assert server.requests[0].body["messages"][0]["role"] == "system"


def test_predict_sync_over_anthropic() -> None:
    with FakeAnthropicServer() as server:
        lm = dspy_ash.LM("anthropic/claude-3-5-haiku", api_base=server.api_base, api_key="k")
        with dspy_ash.context(lm=lm):
            pred = dspy_ash.Predict("question -> answer")(question="Capital of France?")
        assert pred.answer == "answer for Capital of France?"
        body = server.requests[0].body
        assert "system" in body and all(m["role"] != "system" for m in body["messages"])


async def test_json_adapter_uses_what_each_provider_supports(make_lm) -> None:
    async with FakeOpenAIServer() as openai, FakeOpenAIServer() as vllm, FakeAnthropicServer() as anthropic:
        lms = {
            "openai": make_lm("openai/gpt-4o-mini", openai),
            "vllm": make_lm("hosted_vllm/qwen", vllm),
            "anthropic": make_lm("anthropic/claude-3-5-haiku", anthropic),
        }
        for lm in lms.values():
            with dspy_ash.context(lm=lm, adapter=dspy_ash.JSONAdapter()):
                pred = await dspy_ash.Predict("question -> answer").acall(question="Capital of Peru?")
            assert pred.answer == "answer for Capital of Peru?"
        assert openai.requests[0].body["response_format"]["type"] == "json_schema"
        assert vllm.requests[0].body["response_format"] == {"type": "json_object"}
        assert "response_format" not in anthropic.requests[0].body


def test_capabilities() -> None:
    openai = dspy_ash.LM("openai/gpt-4o-mini", api_key="k")
    compat = dspy_ash.LM("together_ai/meta-llama/Llama-3-8b", api_key="k")
    claude = dspy_ash.LM("anthropic/claude-3-5-haiku", api_key="k")
    assert openai.supports_response_schema and not compat.supports_response_schema
    assert "response_format" in compat.supported_params and "response_format" not in claude.supported_params
    assert all(lm.supports_function_calling for lm in (openai, compat, claude))
    assert dspy_ash.LM("openai/o3-mini", api_key="k").supports_reasoning and not openai.supports_reasoning
