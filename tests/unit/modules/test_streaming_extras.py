"""streamify beyond field chunks: status messages while a sync tool blocks, custom items sent by the
program, listener targeting, and the error for a field no predictor has."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

import dspy_ash as dspy
from dspy_ash.lm._stream import StreamSink
from dspy_ash.modules._streaming import StatusMessage, StreamListener, StreamResponse, apply_sync_streaming
from dspy_ash.testing import DummyLM
from dspy_ash.testing.fake_servers import FakeOpenAIServer, Reply


async def test_status_messages_arrive_while_a_sync_tool_blocks() -> None:
    def slow() -> str:
        time.sleep(0.3)
        return "done"

    class Program(dspy.Module):
        def forward(self, question: str) -> Any:
            dspy.Tool(slow)()
            return dspy.Prediction(answer="x")

    stamps: list[float] = []
    async for item in dspy.streamify(Program())(question="q"):
        if isinstance(item, StatusMessage):
            stamps.append(time.monotonic())
    assert len(stamps) == 2 and stamps[1] - stamps[0] >= 0.25  # the start message did not wait for the tool


async def test_items_the_program_sends_pass_through_in_order() -> None:
    @dataclass
    class Progress:
        step: int

    class Program(dspy.Module):
        async def aforward(self, question: str) -> Any:
            sink = dspy.settings.send_stream
            assert isinstance(sink, StreamSink)
            await sink.send(Progress(1))
            sink.send_sync(Progress(2))
            return dspy.Prediction(answer="x")

    items = [i async for i in dspy.streamify(Program(), is_async_program=True)(question="q")]
    assert items[:2] == [Progress(1), Progress(2)] and items[2].answer == "x"


async def test_only_the_listened_predictor_streams() -> None:
    class Two(dspy.Module):
        def __init__(self) -> None:
            super().__init__()
            self.first = dspy.Predict("question -> answer")
            self.second = dspy.Predict("question -> answer")

        async def aforward(self, question: str) -> Any:
            await self.first.acall(question=question)
            return await self.second.acall(question=question)

    program = Two()
    replies = [Reply(chunks=["[[ ## answer ## ]]\n", "one", " two", "\n\n[[ ## completed ## ]]"])] * 2
    async with FakeOpenAIServer(script=replies) as server:
        lm = dspy.LM("openai/gpt-4o-mini", api_base=server.api_base, api_key="k", cache=False)
        listener = StreamListener("answer", predict=program.second, predict_name="second")
        with dspy.context(lm=lm):
            items = [i async for i in dspy.streamify(program, stream_listeners=[listener])(question="q")]
    assert [(i.predict_name, i.chunk) for i in items if isinstance(i, StreamResponse)] == [
        ("second", "one"),
        ("second", " two"),
        ("second", ""),  # the end marker came alone: an empty last chunk, as in DSPy
    ]
    # the first predictor's call was not streamed at all
    assert [r.body.get("stream") for r in server.requests] == [None, True]


def test_a_field_in_two_predictors_needs_a_predict() -> None:
    class Two(dspy.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = dspy.Predict("question -> answer")
            self.b = dspy.Predict("question -> answer")

    with pytest.raises(ValueError, match="not unique in the program"):
        dspy.streamify(Two(), stream_listeners=[StreamListener("answer")])


def test_sync_streaming_of_status_messages() -> None:
    class Program(dspy.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tool = dspy.Tool(lambda x: f"What color is the {x}?", name="ask")
            self.predict = dspy.Predict("question -> answer")

        def __call__(self, x: str) -> Any:  # overriding __call__ works, as in DSPy
            return self.predict(question=self.tool(x=x))

    with dspy.context(lm=DummyLM([{"answer": "blue"}])):
        items = list(apply_sync_streaming(dspy.streamify(Program())("sky")))
    assert [i.message for i in items if isinstance(i, StatusMessage)] == [
        "Calling tool ask...",
        "Tool calling finished! Querying the LLM with tool calling results...",
    ]
    assert items[-1].answer == "blue"


async def test_sync_streaming_inside_a_running_loop() -> None:
    """A sync generator consumed from async code (a notebook cell) still yields every item."""
    program = dspy.streamify(dspy.Predict("question -> answer"), async_streaming=False)
    with dspy.context(lm=DummyLM([{"answer": "inside"}])):
        items = list(program(question="q"))
    assert len(items) == 1 and items[0].answer == "inside"


def test_sync_streaming_raises_the_program_error() -> None:
    class Broken(dspy.Module):
        def forward(self, question: str) -> Any:
            raise RuntimeError("broken sync program")

    with pytest.raises(RuntimeError, match="broken sync program"):
        list(dspy.streamify(Broken(), async_streaming=False)(question="q"))


async def test_stopping_early_cancels_the_program() -> None:
    import asyncio

    finished: list[bool] = []

    class Slow(dspy.Module):
        async def aforward(self, question: str) -> Any:
            dspy.settings.send_stream.send_sync("first")
            await asyncio.sleep(5)
            finished.append(True)
            return dspy.Prediction(answer="late")

    stream = dspy.streamify(Slow(), is_async_program=True)(question="q")
    assert await stream.__anext__() == "first"
    await stream.aclose()
    await asyncio.sleep(0.05)
    assert finished == []
