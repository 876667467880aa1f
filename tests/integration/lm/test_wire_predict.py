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
