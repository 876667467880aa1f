"""`streamify(program, stream_listeners=[StreamListener(signature_field_name="answer")])`, as DSPy 3.4.1's.

Calling the result returns an async generator (a sync one with `async_streaming=False`) of what the program
produces while it runs: `StatusMessage`s, then per listened field `StreamResponse` pieces as the LM writes
them, and last the program's `Prediction`. Without listeners the LM's raw `StreamChunk`s are yielded
instead, and anything the program sends itself (`await dspy.settings.send_stream.send(x)`) passes through.

How: the program runs with `settings.send_stream` set to a `StreamSink` (dspy_ash.lm._stream). Each LM call
of a listened predictor then asks its provider for a streamed reply and sends the deltas to the sink, tagged
with the predictor; this generator hands each one to that predictor's listeners. A cached reply, or an LM
that cannot stream (DummyLM), sends no deltas: its fields arrive in the final `Prediction` only, which is
then always yielded, even with `include_final_prediction_in_output_stream=False`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import json
import queue
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import Any

from dspy_ash._sync import call_sync, run_sync
from dspy_ash.errors import InvalidInputError
from dspy_ash.lm._stream import StreamChunk, StreamSink
from dspy_ash.modules._stream_listener import StreamListener, find_predictor_for_stream_listeners
from dspy_ash.modules._stream_messages import (
    StatusMessage,
    StatusMessageProvider,
    StatusStreamingCallback,
    StreamResponse,
)
from dspy_ash.primitives._prediction import Prediction
from dspy_ash.settings import read, settings

__all__ = [
    "StatusMessage",
    "StatusMessageProvider",
    "StreamListener",
    "StreamResponse",
    "apply_sync_streaming",
    "streamify",
    "streaming_response",
]

_DONE = object()  # the sink's last item: the program has returned (or raised)


def _runner(program: Any, is_async_program: bool) -> Callable[..., Awaitable[Any]]:
    """How to await one call of `program`: `acall` for an async program, else its sync call on a worker
    thread (so a program that overrides `__call__` runs as written, and its blocking code blocks only that
    thread)."""
    if is_async_program:
        return program.acall
    if inspect.iscoroutinefunction(program):
        return program

    async def call(*args: Any, **kwargs: Any) -> Any:
        return await call_sync(program, *args, **kwargs)

    return call


def streamify(
    program: Any,
    status_message_provider: StatusMessageProvider | None = None,
    stream_listeners: list[StreamListener] | None = None,
    include_final_prediction_in_output_stream: bool = True,
    is_async_program: bool = False,
    async_streaming: bool = True,
) -> Callable[..., Any]:
    """Wrap `program` so that a call returns a generator of its status messages, streamed field pieces and
    result (the module docstring). Listeners without `predict` are attached here to the predictor that has
    their field; a field that no predictor, or more than one, has is an error."""
    listeners = stream_listeners or []
    by_predictor = find_predictor_for_stream_listeners(program, listeners) if listeners else {}
    run = _runner(program, is_async_program)
    callbacks = _with_status_streaming(status_message_provider)

    async def async_streamer(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
        sink = StreamSink()

        async def produce() -> None:
            try:
                with settings.context(send_stream=sink, callbacks=callbacks, stream_listeners=listeners):
                    result = await run(*args, **kwargs)
                await sink.send(result)
            finally:
                sink.send_sync(_DONE)

        task = asyncio.ensure_future(produce())
        try:
            while (value := await sink.queue.get()) is not _DONE:
                if isinstance(value, StreamChunk) or _is_litellm_chunk(value):
                    if not by_predictor:
                        yield value  # no listeners: the raw chunks, as DSPy yields them
                    predict_id: Any = getattr(value, "predict_id", None)
                    for listener in by_predictor.get(predict_id, []):
                        if output := listener.receive(value):
                            yield output
                elif isinstance(value, Prediction):
                    for item in _last_items(value, listeners, include_final_prediction_in_output_stream):
                        yield item
                    break
                else:
                    yield value  # a status message, or a custom chunk the program sent
            await task  # the program's exception, if it raised
        finally:
            if not task.done():  # the caller stopped early: stop the program too
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    if async_streaming:
        return async_streamer

    def sync_streamer(*args: Any, **kwargs: Any) -> Generator[Any, None, None]:
        return apply_sync_streaming(async_streamer(*args, **kwargs))

    return sync_streamer


def _with_status_streaming(status_message_provider: StatusMessageProvider | None) -> list[Any]:
    """The configured callbacks, plus one that streams status messages unless one already does."""
    callbacks = list(read("callbacks"))
    if not any(isinstance(c, StatusStreamingCallback) for c in callbacks):
        callbacks.append(StatusStreamingCallback(status_message_provider))
    return callbacks


def _last_items(result: Prediction, listeners: list[StreamListener], include_prediction: bool) -> list[Any]:
    """What the stream ends with: the text the listeners still hold back (a reply without its end
    marker), then the program's result unless the listeners already streamed it."""
    items: list[Any] = [chunk for listener in listeners if (chunk := listener.finalize())]
    if (
        include_prediction
        or not listeners
        or any(listener.cache_hit for listener in listeners)
        or not any(listener.stream_start for listener in listeners)
    ):
        items.append(result)
    return items


def apply_sync_streaming(async_generator: AsyncGenerator[Any, None]) -> Generator[Any, None, None]:
    """The items of an async generator (a streamified program's) from sync code, as DSPy does it: a thread
    of its own runs the generator to the end (so this works inside a running event loop too) and hands
    each item over as it comes."""
    items: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
    context = contextvars.copy_context()  # the caller's settings reach the program

    async def pump() -> None:
        try:
            async for item in async_generator:
                items.put(("item", item))
        except BaseException as exc:
            items.put(("error", exc))
        finally:
            items.put(("done", None))

    threading.Thread(target=context.run, args=(run_sync, pump()), name="dspy-ash-stream", daemon=True).start()
    while True:
        kind, value = items.get()
        if kind == "done":
            return
        if kind == "error":
            raise value
        yield value


async def streaming_response(streamer: AsyncGenerator[Any, None]) -> AsyncGenerator[str, None]:
    """A streamified program's output as server-sent event lines (`data: {...}\\n\\n`, then `data: [DONE]`),
    for a service's streaming response."""
    async for value in streamer:
        if isinstance(value, Prediction):
            yield f"data: {_compact({'prediction': dict(value.items(include_dspy=False))})}\n\n"
        elif isinstance(value, StreamChunk) or _is_litellm_chunk(value):
            yield f"data: {_compact({'chunk': value.json()})}\n\n"
        elif isinstance(value, str) and value.startswith("data:"):
            yield value  # already an OpenAI-compatible streaming line
        else:
            raise InvalidInputError(f"Unknown chunk value type: {value}")
    yield "data: [DONE]\n\n"


def _compact(data: Any) -> str:
    """JSON as DSPy writes these lines (orjson's output: no spaces, UTF-8 kept)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _is_litellm_chunk(value: Any) -> bool:
    """A litellm `ModelResponseStream`, which DSPy code may send into the stream itself."""
    cls = type(value)
    return cls.__name__ == "ModelResponseStream" and cls.__module__.startswith("litellm")
