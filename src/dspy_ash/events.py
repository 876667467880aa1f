"""The event bus: every module, adapter, LM and tool call announces its start and its end.

Subscribers are callables or objects with `on_event(event)`, registered globally with
`configure(callbacks=[...])`, per call with `context(callbacks=[...])`, or per instance
(`Predict(..., callbacks=[...])`). DSPy-style callbacks (`BaseCallback` with `on_module_start`
and friends) are subscribers too. Tracing, the store's recorder and metrics all listen here; the
engine never writes anywhere itself.

When nothing listens, a call costs one context-variable read and no event objects are built. A
subscriber with an `event_kinds` attribute (a set of kinds) is only sent those kinds, and a call whose
kind nobody wants builds no events either: a trace recorder that skips adapter events saves their cost.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Generator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from dspy_ash.settings import read

logger = logging.getLogger("dspy_ash.events")
_T = TypeVar("_T")

Kind = Literal[
    "module",
    "lm",
    "embedding",
    "adapter_format",
    "adapter_parse",
    "tool",
    "evaluate",
    "compile",
    "progress",
    "interpreter_execute",
    "interpreter_tool_call",
    "interpreter_startup",
    "interpreter_shutdown",
]
# A code interpreter's methods and the kinds their calls are reported as (DSPy's `_INTERPRETER_OPERATIONS`).
INTERPRETER_OPERATIONS: dict[str, Kind] = {
    "execute": "interpreter_execute",
    "invoke_tool": "interpreter_tool_call",
    "start": "interpreter_startup",
    "shutdown": "interpreter_shutdown",
}
# Kinds DSPy's BaseCallback has no hooks for (DSPy sends no events there): not dispatched to it.
_NO_DSPY_HOOK: frozenset[str] = frozenset({"progress", "embedding"})
Phase = Literal["start", "end"]


@dataclass(slots=True)
class Event:
    kind: Kind
    phase: Phase
    call_id: str
    parent_id: str | None
    instance: Any
    name: str
    inputs: dict[str, Any] | None = None
    outputs: Any = None
    error: BaseException | None = None
    usage: dict[str, Any] | None = None
    started_at: float = 0.0
    duration: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_current_call: ContextVar[str | None] = ContextVar("dspy_ash_current_call", default=None)
ACTIVE_CALL_ID = _current_call  # DSPy's name: the id of the observed call running in this context


def current_call_id() -> str | None:
    return _current_call.get()


def _subscribers(kind: str, instance_callbacks: Sequence[Any] = ()) -> list[Any]:
    callbacks = read("callbacks")
    if not callbacks and not instance_callbacks:
        return []
    every = [*callbacks, *instance_callbacks] if instance_callbacks else callbacks
    return [s for s in every if kind in getattr(s, "event_kinds", _ALL_KINDS)]


class _AllKinds:
    def __contains__(self, kind: object) -> bool:
        return True


_ALL_KINDS = _AllKinds()


def _deliver(subscribers: list[Any], event: Event) -> None:
    for sub in subscribers:
        try:
            if hasattr(sub, "on_event"):
                sub.on_event(event)
            elif isinstance(sub, BaseCallback):
                sub._dispatch(event)
            else:
                sub(event)
        except Exception:  # a broken subscriber must never break the program it observes
            logger.exception("event subscriber %r failed", sub)


class CallScope:
    """One observed call. `end()` (or `fail()`) must be called exactly once."""

    __slots__ = ("_subs", "_token", "call_id", "ended", "kind", "name", "parent_id", "started", "target")
    kind: Kind

    def __init__(self, kind: Kind, name: str, target: Any, subs: list[Any], inputs: dict[str, Any] | None):
        self.kind = kind
        self.name = name
        self.target = target
        self._subs = subs
        self.call_id = uuid.uuid4().hex
        self.parent_id = _current_call.get()
        self.started = time.time()
        self.ended = False
        # As in DSPy, a start hook still sees the caller's call as ACTIVE_CALL_ID (its parent).
        _deliver(
            subs,
            Event(
                kind,
                "start",
                self.call_id,
                self.parent_id,
                target,
                name,
                inputs=inputs,
                started_at=self.started,
            ),
        )
        self._token = _current_call.set(self.call_id)

    def end(self, outputs: Any = None, usage: dict[str, Any] | None = None, **extra: Any) -> None:
        self._finish(outputs, None, usage, extra)

    def fail(self, error: BaseException, **extra: Any) -> None:
        self._finish(None, error, None, extra)

    def _finish(
        self, outputs: Any, error: BaseException | None, usage: dict[str, Any] | None, extra: dict[str, Any]
    ) -> None:
        self.ended = True
        try:
            _current_call.reset(self._token)
        except ValueError:  # ended in another context (a task finished elsewhere): nothing to restore
            pass
        _deliver(
            self._subs,
            Event(
                self.kind,
                "end",
                self.call_id,
                self.parent_id,
                self.target,
                self.name,
                outputs=outputs,
                error=error,
                usage=usage,
                started_at=self.started,
                duration=time.time() - self.started,
                extra=extra,
            ),
        )


def listening(instance_callbacks: Sequence[Any] = ()) -> bool:
    """Whether a call could have subscribers: callbacks configured, or the instance's own. When not, a
    caller may skip building the inputs of its event."""
    return bool(instance_callbacks) or bool(read("callbacks"))


def start(
    kind: Kind,
    name: str,
    target: Any,
    inputs: dict[str, Any] | None = None,
    instance_callbacks: Sequence[Any] = (),
) -> CallScope | None:
    """Open an observed call, or return None at no cost when nobody listens."""
    if not listening(instance_callbacks):
        return None  # the common case, decided without building the subscriber list
    subs = _subscribers(kind, instance_callbacks)
    if not subs:
        return None
    return CallScope(kind, name, target, subs, inputs)


@contextmanager
def observe(
    kind: Kind,
    name: str,
    target: Any,
    inputs: dict[str, Any] | None = None,
    instance_callbacks: Sequence[Any] = (),
) -> Generator[CallScope | None, None, None]:
    """`with observe(...) as scope:`; the end event carries `scope.end(...)` data or the exception."""
    scope = start(kind, name, target, inputs, instance_callbacks)
    if scope is None:
        yield None
        return
    try:
        yield scope
    except BaseException as exc:
        scope.fail(exc)
        raise
    if not scope.ended:
        scope.end()


def run_in_scope(scope: CallScope | None, call: Callable[[], _T]) -> _T:
    """`call()`, its scope failed with what it raises or ended with what it returns (None: just the call)."""
    if scope is None:
        return call()
    try:
        result = call()
    except BaseException as exc:
        scope.fail(exc)
        raise
    scope.end(result)
    return result


async def arun_in_scope(scope: CallScope | None, call: Callable[[], Awaitable[_T]]) -> _T:
    """`run_in_scope` for a coroutine: the scope ends when the awaited call does."""
    if scope is None:
        return await call()
    try:
        result = await call()
    except BaseException as exc:
        scope.fail(exc)
        raise
    scope.end(result)
    return result


def emit(kind: Kind, name: str, target: Any = None, **extra: Any) -> None:
    """A one-off event (optimizer progress, evaluation progress): phase 'end', no duration."""
    subs = _subscribers(kind)
    if subs:
        _deliver(
            subs,
            Event(
                kind,
                "end",
                uuid.uuid4().hex,
                _current_call.get(),
                target,
                name,
                started_at=time.time(),
                extra=extra,
            ),
        )


class BaseCallback:
    """DSPy's callback interface; override the hooks you need. Each gets the call id first."""

    def on_module_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None: ...
    def on_module_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None: ...
    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None: ...
    def on_lm_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None: ...
    def on_adapter_format_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None: ...
    def on_adapter_format_end(
        self, call_id: str, outputs: Any, exception: BaseException | None = None
    ) -> None: ...
    def on_adapter_parse_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None: ...
    def on_adapter_parse_end(
        self, call_id: str, outputs: Any, exception: BaseException | None = None
    ) -> None: ...
    def on_tool_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None: ...
    def on_tool_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None: ...
    def on_evaluate_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None: ...
    def on_evaluate_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None: ...
    def on_compile_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None: ...
    def on_compile_end(self, call_id: str, outputs: Any, exception: BaseException | None = None) -> None: ...
    def on_interpreter_execute_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None: ...
    def on_interpreter_execute_end(
        self, call_id: str, outputs: Any, exception: BaseException | None = None
    ) -> None: ...
    def on_interpreter_tool_call_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None: ...
    def on_interpreter_tool_call_end(
        self, call_id: str, outputs: Any, exception: BaseException | None = None
    ) -> None: ...
    def on_interpreter_startup_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None: ...
    def on_interpreter_startup_end(
        self, call_id: str, outputs: Any, exception: BaseException | None = None
    ) -> None: ...
    def on_interpreter_shutdown_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None: ...
    def on_interpreter_shutdown_end(
        self, call_id: str, outputs: Any, exception: BaseException | None = None
    ) -> None: ...

    def _dispatch(self, event: Event) -> None:
        if event.kind in _NO_DSPY_HOOK:
            return
        hook: Callable[..., None] = getattr(self, f"on_{event.kind}_{event.phase}")
        if event.phase == "start":
            hook(event.call_id, event.instance, event.inputs or {})
        else:
            hook(event.call_id, event.outputs, event.error)


# The modules currently running in this context, innermost last (for per-module LM history).
caller_modules: ContextVar[tuple[Any, ...]] = ContextVar("dspy_ash_caller_modules", default=())


def bind_active_call_id(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` made to run under the call id active now, wherever it is later called (DSPy binds thread-pool
    work this way; here it matters for callables handed to other threads)."""
    import functools

    parent = _current_call.get()

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = _current_call.set(parent)
        try:
            return fn(*args, **kwargs)
        finally:
            _current_call.reset(token)

    return wrapper


def _is_interpreter(instance: Any) -> bool:
    """DSPy's `CodeInterpreter` protocol: `tools` and callable `start`, `execute` and `shutdown`."""
    return hasattr(instance, "tools") and all(
        callable(getattr(instance, name, None)) for name in ("start", "execute", "shutdown")
    )


def with_callbacks(fn: Callable[..., Any]) -> Callable[..., Any]:
    """DSPy's decorator for a method of a module, LM or tool: its calls are reported to callbacks (the
    instance's `callbacks` and the configured ones) as the built-in calls of that kind are."""
    import functools
    import inspect

    signature = inspect.signature(fn)

    def scope_for(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> CallScope | None:
        bound = signature.bind_partial(instance, *args, **kwargs)
        inputs = {k: v for k, v in list(bound.arguments.items())[1:]}
        # LMs say so by a class attribute (`BaseLM._callback_kind`): this layer sits below the LM layer.
        kind: Kind = (
            getattr(type(instance), "_callback_kind", None)
            or (INTERPRETER_OPERATIONS.get(fn.__name__) if _is_interpreter(instance) else None)
            or ("tool" if hasattr(instance, "args") else "module")
        )
        name = getattr(instance, "model", None) if kind == "lm" else type(instance).__name__
        return start(kind, str(name), instance, inputs, getattr(instance, "callbacks", None) or ())

    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_wrapper(instance: Any, *args: Any, **kwargs: Any) -> Any:
            return await arun_in_scope(
                scope_for(instance, args, kwargs), lambda: fn(instance, *args, **kwargs)
            )

        return async_wrapper

    @functools.wraps(fn)
    def wrapper(instance: Any, *args: Any, **kwargs: Any) -> Any:
        return run_in_scope(scope_for(instance, args, kwargs), lambda: fn(instance, *args, **kwargs))

    return wrapper
