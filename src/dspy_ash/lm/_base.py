"""The one LM seam: `BaseLM.request(LMRequest) -> LMResponse`.

Everything else an LM does for its callers lives here once: turning `lm(prompt)` / `lm(messages=...)`
into a request, events, usage, bounded history, `inspect_history`, copy and saved state.
Providers implement `request`; cache, retry, rate limit and fallback wrap a `BaseLM` and are
`BaseLM`s themselves.
"""

from __future__ import annotations

import copy as copy_module
import importlib
import logging
import random
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, ClassVar, Literal, TextIO

from dspy_ash import _gc, events
from dspy_ash._sync import call_sync, run_sync
from dspy_ash.errors import InvalidInputError, SavedStateError, UnsupportedFeatureError
from dspy_ash.lm import _usage as usage_module
from dspy_ash.lm._history import append_bounded, current_history, pretty_print_history
from dspy_ash.lm._stream import OnDelta, request_streamed, streams
from dspy_ash.lm._types import Choice, EmbeddingRequest, EmbeddingResponse, LMRequest, LMResponse
from dspy_ash.settings import read

logger = logging.getLogger("dspy_ash.lm")

LM_CLASS_STATE_KEY = "_dspy_lm_class"
# Call-time options that steer dspy-ash itself and are never sent to a provider.
_CALL_OPTIONS = ("cache", "rollout_id", "namespace")


class BaseLM:
    """Subclass and implement `request`; call with `lm("prompt")`, `lm(messages=[...])` or `await lm.acall(...)`."""

    # What the adapters may ask of the provider; providers that can do more say so.
    supported_params: frozenset[str] = frozenset()
    supports_function_calling: bool = False
    supports_response_schema: bool = False
    # How `events.with_callbacks` reports a decorated method of an LM (events cannot import this layer).
    _callback_kind: ClassVar[Literal["lm"]] = "lm"

    def __init__(
        self,
        model: str,
        model_type: str = "chat",
        temperature: float | None = None,
        max_tokens: int | None = None,
        cache: bool = True,
        num_retries: int = 3,
        callbacks: list[Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.model = model
        self.model_type = model_type
        self.cache = cache
        self.num_retries = num_retries
        self.callbacks = list(callbacks or [])
        self.kwargs: dict[str, Any] = {"temperature": temperature, "max_tokens": max_tokens, **kwargs}
        self.history: list[dict[str, Any]] = []

    async def request(self, req: LMRequest) -> LMResponse:
        """Send one request and return its response (the only method a provider must write).

        Not abstract: as in DSPy, a `BaseLM` subclass that only carries state (or overrides `__call__`) can
        be built; calling one that answers nothing raises here."""
        raise NotImplementedError(
            f"{type(self).__name__} implements neither request() nor DSPy's forward()/aforward()"
        )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # A custom LM written for DSPy implements `forward` / `aforward` (returning an OpenAI-style
        # response) instead of `request`; adapt it, so `class MyLM(dspy.BaseLM)` runs unchanged.
        if "request" not in cls.__dict__ and ("forward" in cls.__dict__ or "aforward" in cls.__dict__):
            cls.request = _request_via_forward  # pyright: ignore[reportAttributeAccessIssue]
        # One that overrides `__call__` (DSPy's sync adapters call `lm(messages=...)`, so a spy or a custom LM
        # written for DSPy answers there) and not `acall` is called the same way from the async path.
        if "__call__" in cls.__dict__ and "acall" not in cls.__dict__:
            cls.acall = _acall_via_call  # pyright: ignore[reportAttributeAccessIssue]

    def stream(self, req: LMRequest) -> AsyncIterator[str]:
        """Text deltas of one reply, for providers that stream; wrappers pass it on."""
        raise UnsupportedFeatureError(f"{type(self).__name__} does not stream")

    async def request_streaming(self, req: LMRequest, on_delta: OnDelta) -> LMResponse:
        """`request`, streamed: each text delta goes to `on_delta` as it arrives (the cache overrides this
        to answer hits whole). Raises UnsupportedFeatureError before any delta when this LM cannot stream."""
        parts: list[str] = []
        async for delta in self.stream(req):
            parts.append(delta)
            await on_delta(delta)
        return LMResponse(choices=[Choice(text="".join(parts))], model=self.model)

    async def embed(self, req: EmbeddingRequest) -> EmbeddingResponse:
        """Vectors for `req.inputs`, for providers with an embeddings endpoint; wrappers pass it on."""
        raise UnsupportedFeatureError(f"{type(self).__name__} has no embeddings endpoint")

    # -- calling ---------------------------------------------------------------------------------
    def build_request(
        self, prompt: str | None = None, messages: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> LMRequest:
        from_prompt = messages is None
        if messages is None:
            if prompt is None:
                raise InvalidInputError("Pass a prompt or messages to the LM.")
            messages = [{"role": "user", "content": prompt}]
        merged = {**self.kwargs, **kwargs}
        cache = merged.pop("cache", self.cache)
        rollout_id = merged.pop("rollout_id", None)
        namespace = merged.pop("namespace", None) or read("cache_namespace")
        params = {k: v for k, v in merged.items() if v is not None}
        call_kwargs = {k: v for k, v in kwargs.items() if k not in _CALL_OPTIONS} if kwargs else {}
        return LMRequest(
            model=self.model,
            messages=messages,
            params=params,
            model_type=self.model_type,
            rollout_id=rollout_id,
            cache=bool(cache),
            namespace=namespace,
            call_kwargs=call_kwargs,
            prompt=prompt if from_prompt else None,
        )

    async def acall(
        self, prompt: str | None = None, messages: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> list[str | dict[str, Any]]:
        req = self.build_request(prompt, messages, **kwargs)
        response = await self.send(req)
        return response.outputs

    def __call__(
        self, prompt: str | None = None, messages: list[dict[str, Any]] | None = None, **kwargs: Any
    ) -> list[str | dict[str, Any]]:
        # An overriding `__call__` that calls this one (super) reaches the provider, not itself again.
        if type(self).acall is _acall_via_call:
            return run_sync(BaseLM.acall(self, prompt, messages, **kwargs))
        return run_sync(self.acall(prompt, messages, **kwargs))

    async def send(self, req: LMRequest) -> LMResponse:
        """`request` plus what every call gets: the LM events, usage accounting and history."""
        scope = events.start(
            "lm", self.model, self, {"messages": req.messages, "kwargs": req.params}, self.callbacks
        )
        _gc.call_started()
        try:
            response = await (request_streamed(self, req) if streams(req) else self.request(req))
        except BaseException as exc:
            if scope is not None:
                scope.fail(exc)
            raise
        finally:
            _gc.call_finished()
        usage = response.usage.as_dict()
        usage_module.record(self.model, usage, response.cost, response.cache_hit)
        if not read("disable_history"):
            self._remember(req, response, usage)
        if scope is not None:
            end_call(scope, response.outputs, response, usage, messages=req.messages)
        return response

    def _remember(self, req: LMRequest, response: LMResponse, usage: dict[str, Any]) -> None:
        entry = {
            "prompt": None,
            "messages": req.messages,
            "kwargs": req.call_kwargs,
            "response": response.raw,
            "outputs": response.outputs,
            "usage": {} if response.cache_hit else usage,
            "cost": response.cost,
            "cache_hit": response.cache_hit,
            "timestamp": _timestamp(),
            "uuid": _history_id(),
            "model": self.model,
            "response_model": response.model,
            "model_type": self.model_type,
        }
        limit = read("max_history_size")
        append_bounded(self.history, entry, limit)
        shared = current_history()
        if shared is not None:
            append_bounded(shared, entry, limit)
        for module in _caller_modules():
            append_bounded(module.history, entry, limit)

    # -- inspection, copies, state ---------------------------------------------------------------
    def inspect_history(self, n: int = 1, file: TextIO | None = None) -> None:
        pretty_print_history(self.history, n, file)

    def copy(self, **kwargs: Any) -> BaseLM:
        """A shallow copy with fresh history; kwargs update attributes or request kwargs (None removes one)."""
        new = copy_module.copy(self)
        new.history = []
        new.kwargs = dict(self.kwargs)
        new.callbacks = list(self.callbacks)
        for key, value in kwargs.items():
            if hasattr(self, key) and key != "kwargs":
                setattr(new, key, value)
            elif value is None:
                new.kwargs.pop(key, None)
            else:
                new.kwargs[key] = value
        return new

    def dump_state(self) -> dict[str, Any]:
        kwargs = {k: v for k, v in self.kwargs.items() if k not in ("api_key", LM_CLASS_STATE_KEY)}
        return {
            LM_CLASS_STATE_KEY: f"{type(self).__module__}.{type(self).__qualname__}",
            "model": self.model,
            "model_type": self.model_type,
            "cache": self.cache,
            "num_retries": self.num_retries,
            **kwargs,
        }

    @classmethod
    def load_state(cls, state: dict[str, Any], *, allow_custom_lm_class: bool = False) -> BaseLM:
        state = dict(state)
        path = state.pop(LM_CLASS_STATE_KEY, None)
        target = _resolve_lm_class(path, allow_custom_lm_class)
        return target(**state)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"


# Saved states name the LM class; DSPy's names map to ours so files move both ways.
_BUILTIN_LM_CLASSES = {
    "dspy.clients.lm.LM": "dspy_ash.lm._lm:LM",
    "dspy_ash.lm._lm.LM": "dspy_ash.lm._lm:LM",
}


async def _acall_via_call(
    self: BaseLM, prompt: str | None = None, messages: list[dict[str, Any]] | None = None, **kwargs: Any
) -> list[str | dict[str, Any]]:
    """`acall` of an LM that overrides `__call__`: its `__call__`, on a worker thread (it is sync code)."""
    call = type(self).__call__
    if prompt is None:  # as DSPy's adapters call it: `lm(messages=..., **kwargs)`
        return await call_sync(call, self, messages=messages, **kwargs)
    return await call_sync(call, self, prompt, messages=messages, **kwargs)


async def _request_via_forward(self: BaseLM, req: LMRequest) -> LMResponse:
    from dspy_ash.lm.providers._openai_compat import parse_chat_completion

    # as DSPy calls it: the prompt string when the caller gave one, else the messages
    given = {"prompt": req.prompt, "messages": None} if req.prompt is not None else {"messages": req.messages}
    aforward = getattr(self, "aforward", None)
    if aforward is not None:
        reply = await aforward(**given, **req.params)
    else:
        reply = self.forward(**given, **req.params)  # pyright: ignore[reportAttributeAccessIssue]
    return parse_chat_completion(_plain(reply), None, "custom", self.model)


def _plain(value: Any) -> Any:
    """An OpenAI-style response as plain dicts and lists, whatever it was built from (dicts, pydantic
    models such as litellm's, SimpleNamespace or other attribute objects)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    if hasattr(value, "model_dump"):
        return _plain(value.model_dump())
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return {k: _plain(v) for k, v in vars(value).items() if not k.startswith("_")}
    return value


def _resolve_lm_class(path: str | None, allow_custom: bool) -> type[BaseLM]:
    target = _BUILTIN_LM_CLASSES.get(path or "dspy.clients.lm.LM")
    if target is not None:
        module_name, _, qualname = target.partition(":")
        obj: Any = getattr(importlib.import_module(module_name), qualname)
    else:
        if not allow_custom:
            raise SavedStateError(
                f"Refusing to import custom serialized LM class `{path}`. Pass allow_unsafe_lm_state=True when "
                "loading trusted files to enable custom LM classes (allow_custom_lm_class=True to load_state)."
            )
        obj = _import_class_path(str(path))
    if not (isinstance(obj, type) and issubclass(obj, BaseLM)):
        raise SavedStateError(f"{path!r} is not an LM class")
    return obj


def _import_class_path(path: str) -> Any:
    """`package.module.Outer.Inner`: the longest importable module prefix, then attributes (nested classes)."""
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        try:
            obj: Any = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name or module_name.startswith(f"{exc.name}."):
                continue  # not a module: a shorter prefix may be
            raise
        try:
            for attr in parts[split:]:
                obj = getattr(obj, attr)
        except AttributeError:
            continue
        return obj
    raise SavedStateError(f"Could not import serialized LM class `{path}`.")


def _history_id() -> str:
    """A random version-4 UUID string for a history entry; not for secrets, so no system entropy per call."""
    bits = (_random.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
    text = f"{bits:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _timestamp() -> str:
    """`datetime.now().isoformat()`, with the local date and time to the second formatted once per second
    (formatting it is a third of what recording a call costs on a zero-latency LM)."""
    global _last_second
    second, micro = divmod(time.time_ns() // 1000, 1_000_000)  # floored, as datetime.now() does
    last_second, text = _last_second
    if second != last_second:
        text = datetime.fromtimestamp(second).isoformat()
        _last_second = (second, text)  # one tuple: threads never see a half-updated pair
    return f"{text}.{micro:06d}" if micro else text


_last_second: tuple[int, str] = (-1, "")
_random = random.Random()
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


def end_call(
    scope: events.CallScope,
    outputs: Any,
    response: LMResponse | EmbeddingResponse,
    usage: dict[str, Any],
    **extra: Any,
) -> None:
    """The end event of an LM or embedding call: its outputs and what the response says it cost (a
    cache hit costs no tokens)."""
    scope.end(
        outputs,
        usage if not response.cache_hit else {},
        cost=response.cost,
        cache_hit=response.cache_hit,
        latency=response.latency,
        model=response.model,
        request_id=response.request_id,
        **extra,
    )


def _caller_modules() -> tuple[Any, ...]:
    return events.caller_modules.get()


def inspect_history(n: int = 1, file: TextIO | None = None) -> None:
    """Print the last n LM calls made by any LM in this process, or in the current `history_scope`."""
    pretty_print_history(current_history() or [], n, file)
