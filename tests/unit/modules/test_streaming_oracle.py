"""`streamify` against DSPy 3.4.1: both stream the same replies from the same fake OpenAI server (real SSE on
127.0.0.1, the same chunk boundaries) and must yield the same items, chunk for chunk."""

from __future__ import annotations

import re
import uuid
from typing import Any

import dspy
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dspy_ash
from dspy_ash.lm._stream import StreamChunk
from dspy_ash.testing.fake_servers import FakeOpenAIServer, Reply

CHAT_1 = [
    "[[", " ##", " answer", " ##", " ]]\n\n", "To", " get", " to", " the", " other", " side", "!\n\n[[ ##",
    " completed", " ##", " ]]",
]  # fmt: skip
CHAT_2 = [
    "[[ ##", " judgement", " ##", " ]]\n\n", "The", " answer", " is", " humorous", ".\n\n[[ ##", " completed",
    " ##", " ]]",
]  # fmt: skip
JSON_1 = ['{"', "answer", '":', '"To', " get", " to", " the", " other", " side", '!"', "}\n"]
JSON_2 = ['{"', "jud", "gement", '":', '"The', " answer", " is", " funny", '."', "}"]
XML_1 = ["<", "answer", ">", "To", " get", " there", "!", "<", "/answer", ">"]
XML_2 = ["<", "judgement", ">", "The", " answer", " is", " humorous", ".", "<", "/judgement", ">"]


def _split(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


LONG = "[[ ## answer ## ]]\nThe answer is 42.\n\n[[ ## completed ## ]]"


def _program(lib: Any) -> Any:
    class TwoSteps(lib.Module):
        def __init__(self) -> None:
            super().__init__()
            self.predict1 = lib.Predict("question -> answer")
            self.predict2 = lib.Predict("question, answer -> judgement")

        def forward(self, question: str) -> Any:
            answer = self.predict1(question=question).answer
            return self.predict2(question=question, answer=answer)

    return TwoSteps()


def _describe(lib: Any, item: Any) -> Any:
    if isinstance(item, lib.streaming.StreamResponse):
        return ("response", item.predict_name, item.signature_field_name, item.chunk, item.is_last_chunk)
    if isinstance(item, lib.Prediction):
        return ("prediction", dict(item.items()))
    if isinstance(item, lib.streaming.StatusMessage):
        return ("status", item.message)
    return ("chunk", item.choices[0].delta.content, item.choices[0].finish_reason)


async def _run(lib: Any, replies: list[list[str]], adapter: str, **options: Any) -> list[Any]:
    listeners = options.pop("listeners", ["answer", "judgement"])
    program = options.pop("program", None) or _program(lib)
    async with FakeOpenAIServer(script=[Reply(chunks=c) for c in replies]) as server:
        lm = lib.LM("openai/gpt-4o-mini", api_base=server.api_base, api_key="k", cache=False)
        streamed = lib.streamify(
            program, stream_listeners=[lib.streaming.StreamListener(f, **options) for f in listeners]
        )
        with lib.context(lm=lm, adapter=getattr(lib, adapter)()):
            return [_describe(lib, item) async for item in streamed(question="why?")]


@pytest.mark.parametrize(
    ("adapter", "replies"),
    [
        ("ChatAdapter", [CHAT_1, CHAT_2]),
        ("JSONAdapter", [JSON_1, JSON_2]),
        ("XMLAdapter", [XML_1, XML_2]),
        ("ChatAdapter", [_split(LONG, 1), _split(LONG.replace("answer ##", "judgement ##"), 1)]),
        ("ChatAdapter", [_split(LONG, 2), _split(LONG.replace("answer ##", "judgement ##"), 5)]),
        ("ChatAdapter", [[LONG], CHAT_2]),  # one field in one chunk: not streamed
        ("ChatAdapter", [[*CHAT_1[:-4], " tail"], CHAT_2]),  # no end marker: the rest comes at the end
    ],
)
async def test_streamed_fields_match_dspy(adapter: str, replies: list[list[str]]) -> None:
    ours = await _run(dspy_ash, replies, adapter)
    theirs = await _run(dspy, replies, adapter)
    assert ours == theirs
    assert any(item[0] == "response" for item in ours)


async def test_reused_listener_matches_dspy() -> None:
    def twice(lib: Any) -> Any:
        class Twice(lib.Module):
            def __init__(self) -> None:
                super().__init__()
                self.predict = lib.Predict("question -> answer")

            def forward(self, question: str) -> Any:
                self.predict(question=question)
                return self.predict(question=question)

        return Twice()

    for reuse in (True, False):
        ours = await _run(
            dspy_ash,
            [CHAT_1, CHAT_1],
            "ChatAdapter",
            program=twice(dspy_ash),
            listeners=["answer"],
            allow_reuse=reuse,
        )
        theirs = await _run(
            dspy,
            [CHAT_1, CHAT_1],
            "ChatAdapter",
            program=twice(dspy),
            listeners=["answer"],
            allow_reuse=reuse,
        )
        assert ours == theirs


async def test_unlistened_program_yields_raw_chunks_like_dspy() -> None:
    ours = await _run(dspy_ash, [CHAT_1, CHAT_2], "ChatAdapter", listeners=[])
    theirs = await _run(dspy, [CHAT_1, CHAT_2], "ChatAdapter", listeners=[])
    assert ours == theirs
    assert next(i for i in ours if i[0] == "chunk") == ("chunk", "[[", None)


REPLIES = {
    "ChatAdapter": [
        "[[ ## answer ## ]]\nTo get to the other side!\n\n[[ ## completed ## ]]",
        '[[ ## reasoning ## ]]\nThink [[ twice ]].\n\n[[ ## answer ## ]]\n{"message": "Hi", "status": "ok"}\n\n'
        "[[ ## completed ## ]]",
        "[[ ## answer ## ]]\n  spaced   out  \n\n\n[[ ## judgement ## ]]\nfine\n\n[[ ## completed ## ]]",
        "[[ ## answer ## ]]\nno end marker, the text just stops",
    ],
    "JSONAdapter": [
        '{"answer": "To get to the other side!"}',
        '{\n  "reasoning": "a \\"quoted\\" word",\n  "answer": {"items": ["a", "b"], "active": true}\n}',
        '{"answer": "first", "judgement": "second"}',
    ],
    "XMLAdapter": [
        "<answer>To get to the other side!</answer>",
        "<reasoning>a < b</reasoning>\n<answer>forty two</answer>",
    ],
}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=st.sampled_from([(a, r) for a, rs in REPLIES.items() for r in rs]),
    cuts=st.lists(st.integers(min_value=1, max_value=200), max_size=40),
    field=st.sampled_from(["answer", "reasoning", "judgement"]),
)
def test_listener_matches_dspy_for_any_chunking(case: tuple[str, str], cuts: list[int], field: str) -> None:
    """The same deltas into DSPy's StreamListener and ours give the same responses, whatever the split."""
    adapter, reply = case
    points = sorted({c for c in cuts if c < len(reply)})
    deltas = [reply[i:j] for i, j in zip([0, *points], [*points, len(reply)], strict=True)]

    def run(lib: Any) -> list[Any]:
        listener = lib.streaming.StreamListener(field, predict_name="p")
        out: list[Any] = []
        with lib.context(adapter=getattr(lib, adapter)()):
            for delta in deltas:
                response = listener.receive(StreamChunk.build("m", None, delta))
                if response is not None:
                    out.append((response.chunk, response.is_last_chunk))
            final = listener.finalize()
            out.append(None if final is None else (final.chunk, final.is_last_chunk))
        return [*out, listener.stream_start, listener.stream_end, listener.cache_hit]

    assert run(dspy_ash) == run(dspy)


async def test_cached_reply_streams_nothing_like_dspy() -> None:
    """A repeated call is a cache hit: no chunks, the prediction only (even when not asked for)."""
    question = f"cache me {uuid.uuid4()}"  # DSPy's cache is on disk: never a hit from an earlier run

    async def run(lib: Any) -> list[list[Any]]:
        async with FakeOpenAIServer(script=[Reply(chunks=CHAT_1)]) as server:
            lm = lib.LM("openai/gpt-4o-mini", api_base=server.api_base, api_key="k", cache=True)
            calls: list[list[Any]] = []
            for _ in range(2):  # a listener without allow_reuse serves one call, in DSPy too: one per call
                streamed = lib.streamify(
                    lib.Predict("question -> answer"),
                    stream_listeners=[lib.streaming.StreamListener("answer")],
                    include_final_prediction_in_output_stream=False,
                )
                with lib.context(lm=lm):
                    calls.append([_describe(lib, i) async for i in streamed(question=question)])
            return calls

    ours, theirs = await run(dspy_ash), await run(dspy)
    assert ours == theirs
    assert ours[1] == [("prediction", {"answer": "To get to the other side!"})]
    assert len(ours[0]) > 1


_PREDICT_ID = re.compile(r"predict_id[^,]*,")


async def test_streaming_response_lines_match_dspy() -> None:
    async def run(lib: Any) -> list[str]:
        async with FakeOpenAIServer(script=[Reply(chunks=CHAT_1)]) as server:
            lm = lib.LM("openai/gpt-4o-mini", api_base=server.api_base, api_key="k", cache=False)
            streamed = lib.streamify(lib.Predict("question -> answer"))
            with lib.context(lm=lm):
                return [line async for line in lib.streaming.streaming_response(streamed(question="q"))]

    ours, theirs = await run(dspy_ash), await run(dspy)
    # DSPy's chunk lines carry its predictor's id; compare them without it
    assert [_PREDICT_ID.sub("", x) for x in ours] == [_PREDICT_ID.sub("", x) for x in theirs]
    assert ours[-2:] == [
        'data: {"prediction":{"answer":"To get to the other side!"}}\n\n',
        "data: [DONE]\n\n",
    ]


class Complex(pydantic.BaseModel):
    items: list[str]
    settings: dict[str, str]
    active: bool


@pytest.mark.parametrize(
    ("adapter", "chunks"),
    [
        (
            "JSONAdapter",
            ['{"', 'response": {', '"items": ["a"', ', "b"], ', '"settings": {"key"', ': "value"}, ', '"active": true}', "}"],
        ),
        (
            "ChatAdapter",
            ["[[ ##", " response", " ## ]]\n\n", '{"items": ["a"', '], "settings": {}', ', "active": false}', "\n\n[[ ##",
             " completed", " ## ]]"],
        ),
    ],
)  # fmt: skip
async def test_pydantic_field_streams_like_dspy(adapter: str, chunks: list[str]) -> None:
    """A structured output field: the same chunks and the same parsed prediction as DSPy (DSPy's own
    bracket-balance test replies)."""

    async def run(lib: Any) -> list[Any]:
        class Sig(lib.Signature):
            question: str = lib.InputField()
            response: Complex = lib.OutputField()

        async with FakeOpenAIServer(script=[Reply(chunks=chunks)]) as server:
            lm = lib.LM("openai/gpt-4o-mini", api_base=server.api_base, api_key="k", cache=False)
            streamed = lib.streamify(
                lib.Predict(Sig), stream_listeners=[lib.streaming.StreamListener("response")]
            )
            with lib.context(lm=lm, adapter=getattr(lib, adapter)()):
                items = [item async for item in streamed(question="q")]
        described = [_describe(lib, i) for i in items[:-1]]
        return [*described, items[-1].response.model_dump()]

    ours, theirs = await run(dspy_ash), await run(dspy)
    assert ours == theirs
    assert ours[-2][4] is True  # the last response chunk closes the field
