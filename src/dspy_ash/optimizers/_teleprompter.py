"""`Teleprompter`: the optimizer base. `compile` (sync, DSPy's name) drives the async `acompile`.

Subclasses implement `acompile`. `compile(...)` runs it to completion from sync code (also inside
a running event loop, see `dspy_ash._sync`) and wraps it in a `compile` event scope so subscribers
see start and end. While a compile runs, `self.progress(...)` emits `progress` events that carry
the LM calls and cost spent so far.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Callable, Generator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from dspy_ash import events
from dspy_ash._sync import run_sync
from dspy_ash.lm import _usage as usage_module

# Every keyword argument some DSPy 3.4.1 optimizer's compile() takes. An acompile that ends in `**_` accepts
# these from DSPy code (using those it implements, ignoring the rest); any other name is a mistake and is
# refused as Python refuses it, instead of being swallowed.
_DSPY_COMPILE_ARGS = frozenset(
    {
        "teacher", "trainset", "valset", "sample", "restrict", "labeled_sample", "max_demos", "eval_kwargs",
        "num_trials", "max_bootstrapped_demos", "max_labeled_demos", "seed", "minibatch", "minibatch_size",
        "minibatch_full_eval_steps", "program_aware_proposer", "data_aware_proposer", "view_data_batch_size",
        "tip_aware_proposer", "fewshot_aware_proposer", "requires_permission_to_run", "provide_traceback",
    }
)  # fmt: skip
# dspy-ash's own: every optimizer takes a checkpoint, so a caller (a durable run) passes it to any of them;
# one with nothing worth resuming (LabeledFewShot, Ensemble) ignores it.
_DSPY_ASH_COMPILE_ARGS = frozenset({"checkpoint", "checkpoint_key"})
_ACCEPTED_COMPILE_ARGS = _DSPY_COMPILE_ARGS | _DSPY_ASH_COMPILE_ARGS


def _check_compile_arguments(optimizer: Any, kwargs: dict[str, Any]) -> None:
    params = inspect.signature(optimizer.acompile).parameters
    swallowing = [p for p in params.values() if p.kind is inspect.Parameter.VAR_KEYWORD and p.name == "_"]
    if not swallowing:
        return  # a plain **kwargs takes anything on purpose; without one Python already checks the names
    for name in kwargs:
        if name not in params and name not in _ACCEPTED_COMPILE_ARGS:
            raise TypeError(
                f"{type(optimizer).__name__}.compile() got an unexpected keyword argument {name!r}"
            )


# The compiles running in this context, as (optimizer id, thread, task): a `compile` override that calls
# `super().compile(...)` reports one compile, not two; the same optimizer compiling in a child task, two.
_active_compiles: ContextVar[tuple[tuple[int, int, int | None], ...]] = ContextVar(
    "dspy_ash_active_compiles", default=()
)


def _invocation_key(optimizer: Any) -> tuple[int, int, int | None]:
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running loop
        task = None
    return id(optimizer), threading.get_ident(), id(task) if task is not None else None


def _compile_inputs(
    fn: Callable[..., Any], optimizer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The call's arguments by name, defaults included, as DSPy reports them to `on_compile_start`."""
    bound = inspect.signature(fn).bind(optimizer, *args, **kwargs)
    bound.apply_defaults()
    inputs = dict(bound.arguments)
    inputs.pop(next(iter(bound.signature.parameters)), None)  # self
    if not inputs.get("_", True):
        inputs.pop("_")  # dspy-ash's `**_` that accepts DSPy's other compile arguments
    return inputs


@contextmanager
def _compile_scope(
    optimizer: Any, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Generator[events.CallScope | None, None, None]:
    """A compile event scope, unless this optimizer's compile is already reporting (a `super()` call)."""
    key = _invocation_key(optimizer)
    active = _active_compiles.get()
    if key in active:
        yield None
        return
    token = _active_compiles.set((*active, key))
    try:
        with events.observe(
            "compile", type(optimizer).__name__, optimizer, _compile_inputs(fn, optimizer, args, kwargs)
        ) as scope:
            yield scope
    finally:
        _active_compiles.reset(token)


def _observed(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A subclass's own `compile` (DSPy style, instead of `acompile`), reporting compile events."""
    if inspect.iscoroutinefunction(fn):

        @functools.wraps(fn)
        async def async_compile(self: Any, *args: Any, **kwargs: Any) -> Any:
            with _compile_scope(self, fn, args, kwargs) as scope:
                result = await fn(self, *args, **kwargs)
                if scope is not None:
                    scope.end(result)
                return result

        return async_compile

    @functools.wraps(fn)
    def compile(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _compile_scope(self, fn, args, kwargs) as scope:
            result = fn(self, *args, **kwargs)
            if scope is not None:
                scope.end(result)
            return result

    return compile


class Teleprompter:
    def __init__(self) -> None:
        pass

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "compile" in cls.__dict__:
            cls.compile = _observed(cls.__dict__["compile"])  # pyright: ignore[reportAttributeAccessIssue]

    def compile(self, student: Any, *args: Any, **kwargs: Any) -> Any:
        """Optimize `student` and return a new program; keyword arguments are the subclass's `acompile`'s."""
        return run_sync(self.acompile_observed(student, *args, **kwargs))

    async def acompile(
        self,
        student: Any,
        *,
        trainset: list[Any],
        teacher: Any = None,
        valset: list[Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement acompile()")

    async def acompile_observed(self, student: Any, *args: Any, **kwargs: Any) -> Any:
        """`acompile` inside a compile event scope, with its LM usage tracked for progress events."""
        _check_compile_arguments(self, kwargs)
        active = _active_compiles.get()
        if active and active[-1][0] == id(self):  # a `compile` override reports this compile already
            return await self.acompile(student, *args, **kwargs)
        with _compile_scope(self, type(self).acompile, (student, *args), kwargs) as scope:
            with usage_module.track_usage() as tracker:
                result = await self.acompile(student, *args, **kwargs)
            if scope is not None:
                scope.end(
                    result, usage=tracker.get_total_tokens(), cost=tracker.total_cost, lm_calls=tracker.calls
                )
        return result

    def progress(self, name: str, **fields: Any) -> None:
        """Emit a `progress` event (trial started/finished, score, best so far) with LM calls and cost so far."""
        tracker = usage_module.current_tracker()
        if tracker is not None:
            fields.setdefault("lm_calls", tracker.calls)
            fields.setdefault("cost", tracker.total_cost)
        events.emit("progress", name, self, optimizer=type(self).__name__, **fields)

    def get_params(self) -> dict[str, Any]:
        return self.__dict__
