from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

import dspy_ash as dspy
from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._stream import StreamChunk
from dspy_ash.lm._types import Choice, LMRequest, LMResponse
from dspy_ash.modules._streaming import StreamListener, StreamResponse
from dspy_ash.retrievers import BM25Retriever, hotpotqa_corpus
from dspy_ash.testing.dummy import DummyLM


def test_retrieve_uses_the_configured_rm() -> None:
    dspy.configure(rm=BM25Retriever(hotpotqa_corpus()))
    out = dspy.Retrieve(k=2)("Scott Derrickson director")
    assert len(out.passages) == 2
    assert out.passages[0].startswith("Scott Derrickson |")
    assert len(dspy.Retrieve(k=2)("Scott Derrickson", k=4).passages) == 4


def test_retrieve_accepts_a_dspy_style_callable_rm_and_saves_k() -> None:
    class Doc:
        def __init__(self, text: str) -> None:
            self.long_text = text

    calls: list[tuple[str, int]] = []

    def rm(query: str, k: int) -> list[Doc]:
        calls.append((query, k))
        return [Doc(f"{query}-{i}") for i in range(k)]

    with dspy.context(rm=rm):
        assert dspy.Retrieve(k=3)("q").passages == ["q-0", "q-1", "q-2"]
    assert calls == [("q", 3)]
    retrieve = dspy.Retrieve(k=5)
    assert retrieve.dump_state() == {"k": 5}
    retrieve.load_state({"k": 7})
    assert retrieve.k == 7


def test_retrieve_without_rm_fails_like_dspy() -> None:
    with pytest.raises(AssertionError, match="No RM is loaded"):
        dspy.Retrieve()("q")


class StreamingLM(BaseLM):
    """Streams `text` in `size`-character deltas; `request` is never used while streaming."""

    def __init__(self, text: str, size: int = 3) -> None:
        super().__init__("streaming")
        self.text = text
        self.size = size
        self.requests = 0

    async def request(self, req: LMRequest) -> LMResponse:
        self.requests += 1
        return LMResponse(choices=[Choice(text=self.text)])

    async def _deltas(self) -> AsyncIterator[str]:
        for i in range(0, len(self.text), self.size):
            yield self.text[i : i + self.size]

    def stream(self, req: LMRequest) -> AsyncIterator[str]:
        return self._deltas()


async def _collect(stream: Any) -> list[Any]:
    return [item async for item in stream]


async def test_streamify_streams_a_field_token_by_token() -> None:
    text = "[[ ## reasoning ## ]]\nthink [[ hard ]]\n\n[[ ## answer ## ]]\nThe answer is 42.\n\n[[ ## completed ## ]]"
    lm = StreamingLM(text, size=4)
    dspy.configure(lm=lm)
    program = dspy.streamify(
        dspy.ChainOfThought("question -> answer"),
        stream_listeners=[StreamListener(signature_field_name="answer")],
    )
    items = await _collect(program(question="q"))
    chunks = [i for i in items if isinstance(i, StreamResponse)]
    assert len(chunks) > 3
    assert "".join(c.chunk for c in chunks) == "The answer is 42."
    assert chunks[-1].is_last_chunk and not any(c.is_last_chunk for c in chunks[:-1])
    assert {c.predict_name for c in chunks} == {"predict"}
    assert isinstance(items[-1], dspy.Prediction) and items[-1].answer == "The answer is 42."
    assert lm.requests == 0 and len(lm.history) == 1


async def test_streamify_yields_the_prediction_alone_for_lms_that_cannot_stream() -> None:
    dspy.configure(lm=DummyLM([{"answer": "hello world"}]))
    program = dspy.streamify(
        dspy.Predict("question -> answer"),
        stream_listeners=[StreamListener(signature_field_name="answer")],
        include_final_prediction_in_output_stream=False,
    )
    items = await _collect(program(question="q"))
    # as in DSPy: nothing streamed, so the prediction comes even though it was not asked for
    assert len(items) == 1 and items[0].answer == "hello world"


async def test_streamify_without_listeners_yields_only_the_prediction() -> None:
    dspy.configure(lm=DummyLM([{"answer": "a"}]))
    items = await _collect(dspy.streamify(dspy.Predict("question -> answer"))(question="q"))
    assert len(items) == 1 and items[0].answer == "a"


def test_streamify_rejects_a_field_no_predictor_has() -> None:
    with pytest.raises(ValueError, match="not a field of any predictor"):
        dspy.streamify(dspy.Predict("question -> answer"), stream_listeners=[StreamListener("nope")])


async def test_streamify_raises_the_program_error() -> None:
    class Broken(dspy.Module):
        async def aforward(self, question: str) -> Any:
            raise RuntimeError("broken program")

    with pytest.raises(RuntimeError, match="broken program"):
        await _collect(dspy.streamify(Broken())(question="q"))


def test_listener_holds_back_a_partial_marker() -> None:
    listener = StreamListener("answer")
    deltas = ["[[ ## answer", " ## ]]\nab", "c\n\n[[", " ## completed ## ]]"]
    out = [r for d in deltas if (r := listener.receive(StreamChunk.build("m", None, d))) is not None]
    assert [c.chunk for c in out] == ["ab", "c"] and out[-1].is_last_chunk


async def test_streamify_reports_tool_calls_as_status_messages() -> None:
    from dspy_ash.modules._streaming import StatusMessage, StatusMessageProvider

    def get_weather(city: str) -> str:
        return f"sunny in {city}"

    dspy.configure(
        lm=DummyLM(
            [
                {"next_thought": "look", "next_tool_name": "get_weather", "next_tool_args": {"city": "Oslo"}},
                {"next_thought": "done", "next_tool_name": "finish", "next_tool_args": {}},
                {"reasoning": "r", "answer": "sunny"},
            ]
        )
    )

    class Verbose(StatusMessageProvider):
        def lm_end_status_message(self, outputs: Any) -> str | None:
            return "LM answered"

    react = dspy.ReAct("question -> answer", tools=[get_weather])
    items = await _collect(dspy.streamify(react, status_message_provider=Verbose())(question="q"))
    messages = [i.message for i in items if isinstance(i, StatusMessage)]
    assert messages == [
        "LM answered",
        "Calling tool get_weather...",
        "Tool calling finished! Querying the LLM with tool calling results...",
        "LM answered",
        "LM answered",
    ]  # nothing for the `finish` tool
    assert items[-1].answer == "sunny"


def test_streamify_sync_generator() -> None:
    dspy.configure(lm=StreamingLM("[[ ## answer ## ]]\nsync streaming\n\n[[ ## completed ## ]]", size=4))
    program = dspy.streamify(
        dspy.Predict("question -> answer"),
        async_streaming=False,
        stream_listeners=[StreamListener(signature_field_name="answer")],
    )
    items = list(program(question="q"))
    assert "".join(i.chunk for i in items if isinstance(i, StreamResponse)) == "sync streaming"
    assert items[-1].answer == "sync streaming"
