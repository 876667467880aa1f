"""Token streaming to `streamify`: the sink a streamed program writes to, and the chunks an LM sends there.

While `streamify` runs a program, `settings.send_stream` holds a `StreamSink`. An LM call made then (by a
predictor that is listened to, or by any when nothing is) asks its provider for a streamed reply and sends
each text delta to the sink as a `StreamChunk` tagged with the calling predictor's id, as DSPy's LM sends
`ModelResponseStream` chunks; the reply is cached like any other, and a cache hit sends no chunks. An LM that
cannot stream (DummyLM, a custom `forward`, n > 1, tool calls) answers as usual and sends nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from dspy_ash.errors import UnsupportedFeatureError
from dspy_ash.settings import read

if TYPE_CHECKING:
    from dspy_ash.lm._base import BaseLM
    from dspy_ash.lm._types import LMRequest, LMResponse

OnDelta = Callable[[str], Awaitable[None]]


class _Attributes(dict[str, Any]):
    """A dict whose keys read as attributes (`chunk.choices[0].delta.content`), like DSPy's `EngineChunk`."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class StreamChunk(_Attributes):
    """One streamed delta in OpenAI's chunk shape: `id`, `model`, `predict_id`, `choices[0].delta.content`."""

    @classmethod
    def build(
        cls, model: str, predict_id: int | None, content: str | None, finish: str | None = None
    ) -> StreamChunk:
        delta = _Attributes(content=content)
        choice = _Attributes(index=0, delta=delta, finish_reason=finish)
        return cls(id=None, model=model.split("/", 1)[-1], predict_id=predict_id, choices=[choice])

    def json(self) -> str:
        return json.dumps(self)


class StreamSink:
    """Where a streamed program's chunks and status messages go: a queue on the loop that reads them.

    `await send(item)` and `send_sync(item)` work from any thread or loop (a sync `forward` on a worker
    thread, an LM call on another loop); items keep the order they were sent in."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    async def send(self, item: Any) -> None:
        self.send_sync(item)

    def send_sync(self, item: Any) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.queue.put_nowait(item)
        else:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)


def streams(req: LMRequest) -> bool:
    """Whether this call's reply is streamed to a running `streamify` (one text choice, no tools)."""
    return (
        read("send_stream") is not None
        and int(req.params.get("n") or 1) == 1
        and not req.params.get("tools")
        and req.model_type == "chat"
    )


async def request_streamed(lm: BaseLM, req: LMRequest) -> LMResponse:
    """`lm.request(req)`, with the reply's deltas sent to the current sink as they arrive."""
    sink = read("send_stream")
    predict = read("caller_predict")
    predict_id = id(predict) if predict is not None else None
    sent = False

    async def on_delta(text: str) -> None:
        nonlocal sent
        sent = True
        await sink.send(StreamChunk.build(lm.model, predict_id, text))

    try:
        response = await lm.request_streaming(req, on_delta)
    except UnsupportedFeatureError:
        if sent:
            raise
        return await lm.request(req)
    if sent:
        await sink.send(StreamChunk.build(lm.model, predict_id, None, finish="stop"))
    return response
