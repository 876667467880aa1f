"""An LM that answers by overriding `__call__` (a DSPy test spy, a custom LM written against DSPy's sync
adapters) is called through it from the sync and the async path alike, once per call."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import dspy_ash as dspy
from dspy_ash.testing import DummyLM


class Spy(DummyLM):
    """Counts the calls, then answers as the scripted LM does (its `__call__` calls the base one)."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        super().__init__(answers)
        self.calls: list[Any] = []

    def __call__(self, prompt: str | None = None, messages: Any = None, **kwargs: Any) -> Any:
        self.calls.append(messages)
        return super().__call__(prompt, messages, **kwargs)


class Answering(dspy.BaseLM):
    """No `request` at all: `__call__` is the only way it answers, and it takes no `prompt`."""

    def __call__(self, messages: Any = None, **kwargs: Any) -> Any:  # pyright: ignore[reportIncompatibleMethodOverride] - as DSPy spies write it
        return [f"[[ ## answer ## ]]\n{len(messages)} messages"]


class Stop(BaseException):
    pass


class Raising(dspy.BaseLM):
    def __call__(self, messages: Any = None, **kwargs: Any) -> Any:  # pyright: ignore[reportIncompatibleMethodOverride] - as DSPy spies write it
        raise Stop


def test_an_overriding_call_runs_once_per_call_on_every_path() -> None:
    lm = Spy([{"answer": "a"}, {"answer": "b"}, {"answer": "c"}])
    predict = dspy.Predict("question -> answer")
    assert predict(question="x", lm=lm).answer == "a"
    assert asyncio.run(predict.acall(question="y", lm=lm)).answer == "b"
    assert lm("hi") == ["[[ ## answer ## ]]\nc"]
    assert len(lm.calls) == 3 and len(lm.history) == 3  # the base call behind it recorded each once


def test_an_lm_with_only_call_answers_the_adapters() -> None:
    assert (
        dspy.Predict("question -> answer")(question="x", lm=Answering("custom/call")).answer == "2 messages"
    )


def test_what_the_overriding_call_raises_reaches_the_caller() -> None:
    with pytest.raises(Stop):
        dspy.Predict("question -> answer")(question="x", lm=Raising("custom/raise"))
