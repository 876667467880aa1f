"""`streamify(program, stream_listeners=[StreamListener(signature_field_name="answer")])`.

Calling the result returns an async generator: `StreamResponse` chunks of the listened output
fields as the LM writes them, then the program's final `Prediction`.

How: while the program runs, the configured LM is replaced by a tee that asks the provider for a
streamed reply (the LM facade's token streaming) and feeds each text delta to the listeners, which
cut their field's text out of the ChatAdapter's `[[ ## field ## ]]` markers. An LM that cannot
stream (DummyLM, a provider without streaming, n > 1) answers normally and each listened field
arrives as one chunk when its call completes. Limitations: predictors with their own `lm` are not
teed (they run, but do not stream); JSONAdapter replies are streamed as whole fields. Tool calls (and whatever a custom
`StatusMessageProvider` reports) arrive as `StatusMessage`s, as in DSPy.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, overload

from dspy_ash import events
from dspy_ash._sync import run_sync
from dspy_ash.errors import ConfigurationError, UnsupportedFeatureError
from dspy_ash.lm.base import BaseLM
from dspy_ash.lm.types import Choice, LMRequest, LMResponse
from dspy_ash.modules.predict import Predict
from dspy_ash.primitives.module import Module
from dspy_ash.settings import settings

_MARKER_START = "[[ ## "


@dataclass
class StreamResponse:
    predict_name: str
    signature_field_name: str
    chunk: str
    is_last_chunk: bool = False


@dataclass
class StatusMessage:
    message: str


class StatusMessageProvider:
    """Override any method to stream your own status messages; returning None sends nothing."""

    def tool_start_status_message(self, instance: Any, inputs: dict[str, Any]) -> str | None:
        return f"Calling tool {instance.name}..."

    def tool_end_status_message(self, outputs: Any) -> str | None:
        return "Tool calling finished! Querying the LLM with tool calling results..."

    def module_start_status_message(self, instance: Any, inputs: dict[str, Any]) -> str | None:
        return None

    def module_end_status_message(self, outputs: Any) -> str | None:
        return None

    def lm_start_status_message(self, instance: Any, inputs: dict[str, Any]) -> str | None:
        return None

    def lm_end_status_message(self, outputs: Any) -> str | None:
        return None


def _status_subscriber(provider: StatusMessageProvider, emit: Callable[[Any], None]) -> Callable[[Any], None]:
    """An event subscriber that turns tool, module and LM events into `StatusMessage`s."""

    def on_event(event: Any) -> None:
        if event.kind not in ("tool", "module", "lm") or getattr(event.instance, "name", None) == "finish":
            return
        if event.phase == "start":
            hook = getattr(provider, f"{event.kind}_start_status_message")
            message = hook(event.instance, event.inputs or {})
        elif event.error is None:
            message = getattr(provider, f"{event.kind}_end_status_message")(event.outputs)
        else:
            return
        if message:
            emit(StatusMessage(message))

    return on_event


class StreamListener:
    """Streams one output field (`signature_field_name`) of one predictor (found by field name when
    `predict` is not given). `allow_reuse=True` keeps listening across repeated calls (ReAct loops)."""

    def __init__(
        self,
        signature_field_name: str,
        predict: Any = None,
        predict_name: str | None = None,
        allow_reuse: bool = False,
    ) -> None:
        self.signature_field_name = signature_field_name
        self.predict = predict
        self.predict_name = predict_name
        self.allow_reuse = allow_reuse
        self.stream_end = False
        self._text = ""  # the reply so far
        self._emitted = 0  # characters of the field's value already sent

    # -- one LM call ---------------------------------------------------------------------------------
    def begin(self) -> None:
        self._text, self._emitted = "", 0
        self.stream_end = False

    def receive(self, delta: str, final: bool = False) -> list[StreamResponse]:
        """Chunks of this field made available by `delta`; `final` when the reply is complete."""
        if self.stream_end:
            return []
        self._text += delta
        marker = f"[[ ## {self.signature_field_name} ## ]]"
        begin = self._text.find(marker)
        if begin < 0:
            return []
        body = self._text[begin + len(marker) :].lstrip("\n")
        end = body.find(_MARKER_START)
        if end >= 0 or final:
            value = (body[:end] if end >= 0 else body).rstrip()
            self.stream_end = True
            return [self._response(value[self._emitted :], last=True)]
        # Hold back a tail that may be the start of the next marker, and trailing whitespace.
        safe = len(body)
        for n in range(min(len(_MARKER_START), len(body)), 0, -1):
            if _MARKER_START.startswith(body[-n:]):
                safe = len(body) - n
                break
        safe = len(body[:safe].rstrip())
        if safe <= self._emitted:
            return []
        chunk, self._emitted = body[self._emitted : safe], safe
        return [self._response(chunk)]

    def _response(self, chunk: str, last: bool = False) -> StreamResponse:
        return StreamResponse(self.predict_name or "", self.signature_field_name, chunk, is_last_chunk=last)


class _TeeLM(BaseLM):
    """Wraps the configured LM for one streamed run: streams when it can, feeds the listeners."""

    def __init__(
        self, inner: BaseLM, route: Callable[[], list[StreamListener]], emit: Callable[[StreamResponse], None]
    ) -> None:
        vars(self).update(vars(inner))  # same model, kwargs and history list as the real LM
        self._inner = inner
        self._route = route
        self._emit = emit

    async def request(self, req: LMRequest) -> LMResponse:  # not used: send() is overridden
        return await self._inner.request(req)

    def copy(self, **kwargs: Any) -> BaseLM:
        return _TeeLM(self._inner.copy(**kwargs), self._route, self._emit)

    async def send(self, req: LMRequest) -> LMResponse:
        listeners = self._route()
        for listener in listeners:
            listener.begin()
        streamable = listeners and int(req.params.get("n") or 1) == 1 and not req.params.get("tools")
        if streamable:
            parts: list[str] = []
            scope = events.start(
                "lm",
                self._inner.model,
                self._inner,
                {"messages": req.messages, "kwargs": req.params},
                self._inner.callbacks,
            )
            try:
                async for delta in self._stream(req):
                    parts.append(delta)
                    self._feed(listeners, delta)
            except UnsupportedFeatureError:
                if scope is not None:
                    scope.end(None, unsupported=True)
                if parts:
                    raise
            except BaseException as exc:
                if scope is not None:
                    scope.fail(exc)
                raise
            else:
                self._feed(listeners, "", final=True)
                response = LMResponse(choices=[Choice(text="".join(parts))], model=self._inner.model)
                self._inner._remember(req, response, {})
                if scope is not None:
                    scope.end(response.outputs, {}, streamed=True)
                return response
        response = await self._inner.send(req)
        text = response.choices[0].text if response.choices else ""
        self._feed(listeners, text or "", final=True)
        return response

    def _stream(self, req: LMRequest) -> Any:
        stack = getattr(self._inner, "_stack", None)  # the LM facade streams through its client stack
        return stack.stream(req) if stack is not None else self._inner.stream(req)

    def _feed(self, listeners: list[StreamListener], delta: str, final: bool = False) -> None:
        for listener in listeners:
            for chunk in listener.receive(delta, final=final):
                self._emit(chunk)


def _resolve(program: Module, listeners: list[StreamListener]) -> None:
    """Attach each listener to the predictor that has its output field (DSPy's rules)."""
    named = program.named_predictors()
    for listener in listeners:
        if listener.predict is not None:
            listener.predict_name = listener.predict_name or next(
                (n for n, p in named if p is listener.predict), ""
            )
            continue
        matches = [(n, p) for n, p in named if listener.signature_field_name in p.signature.output_fields]
        if not matches:
            raise ConfigurationError(
                f"Signature field {listener.signature_field_name} is not a field of any predictor in "
                "the program, cannot automatically determine which predictor to use for streaming. "
                "Please verify your field name or specify the predictor to listen to."
            )
        listener.predict_name, listener.predict = matches[0]


@overload
def streamify(
    program: Module,
    status_message_provider: StatusMessageProvider | None = None,
    stream_listeners: list[StreamListener] | None = None,
    include_final_prediction_in_output_stream: bool = True,
    is_async_program: bool = False,
    async_streaming: Literal[True] = True,
) -> Callable[..., AsyncGenerator[Any, None]]: ...


@overload
def streamify(
    program: Module,
    status_message_provider: StatusMessageProvider | None = None,
    stream_listeners: list[StreamListener] | None = None,
    include_final_prediction_in_output_stream: bool = True,
    is_async_program: bool = False,
    *,
    async_streaming: Literal[False],
) -> Callable[..., Iterator[Any]]: ...


def streamify(
    program: Module,
    status_message_provider: StatusMessageProvider | None = None,
    stream_listeners: list[StreamListener] | None = None,
    include_final_prediction_in_output_stream: bool = True,
    is_async_program: bool = False,
    async_streaming: bool = True,
) -> Callable[..., AsyncGenerator[Any, None]] | Callable[..., Iterator[Any]]:
    listeners = list(stream_listeners or [])
    _resolve(program, listeners)
    provider = status_message_provider or StatusMessageProvider()

    async def generator(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, None]:
        queue, task = _start_stream(program, listeners, provider, args, kwargs)
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    break
                yield item
            result = await task
        finally:
            if not task.done():
                task.cancel()
        if include_final_prediction_in_output_stream:
            yield result

    return generator if async_streaming else _sync_stream(generator)


_DONE = object()  # the queue's last item: the program has returned (or raised)


def _start_stream(
    program: Module,
    listeners: list[StreamListener],
    provider: StatusMessageProvider,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> tuple[asyncio.Queue[Any], asyncio.Future[Any]]:
    """Start one streamed call: its chunks and status messages go to the queue, then `_DONE`."""
    # Fresh listener state per call, so concurrent streams of one program never share a buffer.
    active = [copy.copy(ls) for ls in listeners]
    for ls in active:
        ls.begin()

    def route() -> list[StreamListener]:
        current = next((m for m in reversed(events.caller_modules.get()) if isinstance(m, Predict)), None)
        return [ls for ls in active if ls.predict is current and (ls.allow_reuse or not ls.stream_end)]

    queue: asyncio.Queue[Any] = asyncio.Queue()
    lm = settings.lm
    status = _status_subscriber(provider, queue.put_nowait)
    overrides: dict[str, Any] = {"callbacks": [*settings.callbacks, status]}
    if lm is not None and listeners:
        overrides["lm"] = _TeeLM(lm, route, queue.put_nowait)

    async def run() -> Any:
        try:
            with settings.context(**overrides):
                return await program.acall(*args, **kwargs)
        finally:
            queue.put_nowait(_DONE)

    return queue, asyncio.ensure_future(run())


def _sync_stream(generator: Callable[..., AsyncGenerator[Any, None]]) -> Callable[..., Iterator[Any]]:
    def sync_generator(*args: Any, **kwargs: Any) -> Iterator[Any]:
        # Each step runs on the bridge's persistent loop, so the program task keeps its loop between steps.
        stream = generator(*args, **kwargs)
        try:
            while True:
                try:
                    yield run_sync(stream.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            run_sync(stream.aclose())

    return sync_generator
