"""A custom LM written the DSPy way (`forward` / `aforward` returning an OpenAI-style response) runs as is."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import dspy_ash as dspy


class ForwardLM(dspy.BaseLM):
    def __init__(self) -> None:
        super().__init__(model="custom/forward")
        self.seen: list[dict[str, Any]] = []

    def forward(self, prompt: Any = None, messages: Any = None, **kwargs: Any) -> Any:
        self.seen.append({"messages": messages, **kwargs})
        message = SimpleNamespace(
            content="[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]", tool_calls=None
        )
        usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
        return SimpleNamespace(choices=[SimpleNamespace(message=message, finish_reason="stop")], usage=usage)


class AsyncForwardLM(dspy.BaseLM):
    async def aforward(self, prompt: Any = None, messages: Any = None, **kwargs: Any) -> Any:
        return {"choices": [{"message": {"content": "pong"}, "finish_reason": "stop"}], "model": self.model}


def test_forward_lm_drives_a_predictor_and_reports_usage():
    lm = ForwardLM()
    with dspy.context(lm=lm), dspy.track_usage() as usage:
        result = dspy.Predict("question -> answer")(question="Capital of France?")
    assert result.answer == "Paris"
    assert lm.seen and lm.seen[0]["messages"][-1]["role"] == "user"
    assert usage.get_total_tokens()["custom/forward"]["total_tokens"] == 10


async def test_aforward_lm_answers_calls():
    lm = AsyncForwardLM(model="custom/async", cache=False)
    assert await lm.acall("ping") == ["pong"]
    assert lm("ping") == ["pong"]


def test_a_subclass_that_answers_nothing_builds_and_fails_when_called():
    class StateOnly(dspy.BaseLM):  # DSPy allows these (state round-trips, adapters' capture LMs)
        pass

    lm = StateOnly(model="x", cache=False)
    assert lm.model == "x"
    with pytest.raises(NotImplementedError, match="neither request"):
        lm("hello")


class CallOnlyLM(dspy.BaseLM):
    """DSPy's sync adapters call `lm(messages=...)`: an LM that overrides only `__call__` answers there."""

    def __init__(self) -> None:
        super().__init__(model="custom/call")
        self.calls: list[dict[str, Any]] = []

    def __call__(self, messages: Any = None, **kwargs: Any) -> list[str]:  # pyright: ignore[reportIncompatibleMethodOverride]
        self.calls.append({"messages": messages, **kwargs})
        return ["[[ ## answer ## ]]\nRome\n\n[[ ## completed ## ]]"]


class DelegatingCallLM(dspy.BaseLM):
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return super().__call__(*args, **kwargs)


async def test_an_lm_overriding_only_call_answers_the_async_path_too():
    lm = CallOnlyLM()
    with dspy.context(lm=lm):
        assert dspy.Predict("question -> answer")(question="Capital of Italy?").answer == "Rome"
        assert (await dspy.Predict("question -> answer").acall(question="Again?")).answer == "Rome"
    assert len(lm.calls) == 2 and lm.calls[1]["messages"][-1]["content"].startswith("[[ ## question ## ]]")


def test_a_call_override_that_delegates_back_does_not_loop():
    with pytest.raises(NotImplementedError, match="implements neither request"):
        DelegatingCallLM(model="custom/delegating")(messages=[{"role": "user", "content": "hi"}])
