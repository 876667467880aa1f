"""`Module`: the base of every program. Sync and async calls, introspection, copies and saved state.

A subclass implements `forward` (sync) or `aforward` (async), or both. `module(...)` and
`await module.acall(...)` both work either way: an async-only module is driven to completion for
sync callers, and a sync-only module's `forward` runs on a worker thread for async callers, its LM
calls awaited on the caller's loop (see `dspy_ash._sync`).
"""

from __future__ import annotations

import copy
import functools
import inspect
import logging
import sys
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self, TypeVar, cast

from dspy_ash import events
from dspy_ash._sync import call_sync, run_sync
from dspy_ash.lm import _usage as usage_module
from dspy_ash.primitives._example import Example
from dspy_ash.settings import read, settings

logger = logging.getLogger("dspy_ash.module")


class Parameter:
    """Marks an object whose state an optimizer can change (every `Predict` is one)."""


class Predictor(Parameter):
    """Marks a parameter that calls an LM with a signature, demos and an `lm` (every `Predict` is one):
    what `named_predictors` finds. The base class owns the marker so it never imports its subclasses."""


_M = TypeVar("_M")


class ProgramMeta(type):
    def __call__(cls: type[_M], *args: Any, **kwargs: Any) -> _M:  # typed: `Predict(...)` is a Predict
        obj = cast(Any, cls).__new__(cls)
        Module._base_init(obj)  # subclasses that forget super().__init__() still work
        obj.__init__(*args, **kwargs)
        return cast(_M, obj)


class Module(metaclass=ProgramMeta):
    _compiled: bool
    callbacks: list[Any]
    history: list[dict[str, Any]]

    def _base_init(self) -> None:
        self._compiled = False
        self.callbacks = []
        self.history = []

    def __init__(self, callbacks: list[Any] | None = None) -> None:
        self.callbacks = list(callbacks or [])
        self._compiled = False
        self.history = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        forward = cls.__dict__.get("forward")
        if (
            callable(forward)
            and not inspect.iscoroutinefunction(forward)
            and not hasattr(forward, "__dspy_ash_warns__")
        ):
            cls.forward = _warn_when_called_directly(forward)  # pyright: ignore[reportAttributeAccessIssue]

    # -- calling ---------------------------------------------------------------------------------
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if type(self).aforward is Module.aforward:
            raise NotImplementedError(f"{type(self).__name__} must define forward() or aforward().")
        return run_sync(self.aforward(*args, **kwargs))

    async def aforward(self, *args: Any, **kwargs: Any) -> Any:
        if type(self).forward is Module.forward:
            raise NotImplementedError(f"{type(self).__name__} must define forward() or aforward().")
        return await call_sync(self.forward, *args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if type(self).forward is not Module.forward:
            return self._invoke_sync(args, kwargs)
        return run_sync(self._invoke_async(args, kwargs))

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        if type(self).aforward is not Module.aforward:
            return await self._invoke_async(args, kwargs)
        return await call_sync(self._invoke_sync, args, kwargs)

    def _invoke_sync(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with _ModuleCall(self, kwargs) as call:
            return call.returned(self.forward(*args, **kwargs))

    async def _invoke_async(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with _ModuleCall(self, kwargs) as call:
            return call.returned(await self.aforward(*args, **kwargs))

    def batch(
        self,
        examples: list[Any],
        num_threads: int | None = None,
        max_errors: int | None = None,
        return_failed_examples: bool = False,
        provide_traceback: bool | None = None,
        disable_progress_bar: bool = True,
        timeout: float | None = None,
        **_: Any,
    ) -> Any:
        """Run the module over many examples concurrently (asyncio tasks), results in input order."""
        return run_sync(
            self.abatch(
                examples,
                num_threads=num_threads,
                max_errors=max_errors,
                return_failed_examples=return_failed_examples,
                timeout=timeout,
            )
        )

    async def abatch(
        self,
        examples: list[Any],
        num_threads: int | None = None,
        max_errors: int | None = None,
        return_failed_examples: bool = False,
        timeout: float | None = None,
    ) -> Any:
        from dspy_ash.primitives._concurrency import run_bounded

        def call(example: Any) -> Any:
            inputs: Any = example.inputs() if isinstance(example, Example) else example
            return self.acall(**{str(k): v for k, v in inputs.items()})

        outcome = await run_bounded(
            examples,
            call,
            limit=num_threads or settings.num_threads,
            max_errors=max_errors,
            timeout=timeout if timeout and timeout > 0 else None,  # as in DSPy, 0 (or less) is no time limit
        )
        if return_failed_examples:
            failed = [examples[i] for i in outcome.failed]
            return outcome.results, failed, [outcome.errors[i] for i in outcome.failed]
        return outcome.results

    # -- introspection ---------------------------------------------------------------------------
    def named_parameters(self) -> list[tuple[str, Any]]:
        """(name, Parameter) pairs in attribute order: `qa.predict`, `tools[0]`, `by_kind['x']`."""
        found: list[tuple[str, Any]] = []
        seen: set[int] = set()

        def add(name: str, value: Any) -> None:
            if id(value) in seen:
                return
            seen.add(id(value))
            found.append((name, value))

        if isinstance(self, Parameter):
            add("self", self)
        for name, value in self.__dict__.items():
            if isinstance(value, Parameter):
                add(name, value)
            elif isinstance(value, Module):
                if not getattr(value, "_compiled", False):
                    for sub_name, param in value.named_parameters():
                        add(f"{name}.{sub_name}", param)
            elif isinstance(value, list | tuple):
                for i, item in enumerate(value):
                    _add_container_item(add, f"{name}[{i}]", item)
            elif isinstance(value, dict):
                for key, item in value.items():
                    _add_container_item(add, f"{name}['{key}']", item)
        return found

    def parameters(self) -> list[Any]:
        return [p for _, p in self.named_parameters()]

    def named_predictors(self) -> list[tuple[str, Any]]:
        return [(n, p) for n, p in self.named_parameters() if isinstance(p, Predictor)]

    def predictors(self) -> list[Any]:
        return [p for _, p in self.named_predictors()]

    def named_sub_modules(
        self, type_: type | None = None, skip_compiled: bool = False
    ) -> Iterator[tuple[str, Any]]:
        """Every sub-module (breadth first, each once, under the first path found), through nested lists,
        tuples and dicts (`self.blocks[1][key]`), as DSPy names them."""
        wanted = type_ or Module
        queue: deque[tuple[str, Any]] = deque([("self", self)])
        seen: set[int] = {id(self)}

        def add(name: str, item: Any) -> None:
            if id(item) not in seen:
                seen.add(id(item))
                queue.append((name, item))

        while queue:
            name, item = queue.popleft()
            if isinstance(item, wanted):
                yield name, item
            if isinstance(item, Module):
                if skip_compiled and getattr(item, "_compiled", False):
                    continue
                for sub_name, sub in item.__dict__.items():
                    add(f"{name}.{sub_name}", sub)
            elif isinstance(item, list | tuple):
                for i, sub in enumerate(cast(Any, item)):
                    add(f"{name}[{i}]", sub)
            elif isinstance(item, dict):
                for key, sub in cast(dict[Any, Any], item).items():
                    add(f"{name}[{key}]", sub)

    def map_named_predictors(self, func: Callable[[Any], Any]) -> Self:
        for name, predictor in self.named_predictors():
            set_attribute_by_name(self, name, func(predictor))
        return self

    def set_lm(self, lm: Any) -> None:
        for _, param in self.named_predictors():
            param.lm = lm

    def get_lm(self) -> Any:
        lms = {id(p.lm): p.lm for p in self.predictors()}
        if len(lms) == 1:
            return next(iter(lms.values()))
        raise ValueError("Multiple LMs are being used in the module. There's no unique LM to return.")

    def inspect_history(self, n: int = 1) -> None:
        from dspy_ash.lm._history import pretty_print_history

        pretty_print_history(self.history, n)

    def __repr__(self) -> str:
        return "\n".join(f"{name} = {param}" for name, param in self.named_parameters())

    # -- copies ------------------------------------------------------------------------------------
    def deepcopy(self) -> Self:
        """A deep copy that shares LM clients (they are connection pools, not program state)."""
        memo: dict[int, Any] = {}
        for param in self.parameters():
            lm = getattr(param, "lm", None)
            if lm is not None:
                memo[id(lm)] = lm
        try:
            return copy.deepcopy(self, memo)
        except Exception:
            new = self.__class__.__new__(self.__class__)
            for attr, value in self.__dict__.items():
                if isinstance(value, Module):
                    setattr(new, attr, value.deepcopy())
                else:
                    try:
                        setattr(new, attr, copy.deepcopy(value, memo))
                    except Exception:
                        logger.warning(
                            "Failed to deep copy attribute '%s' of %s; sharing it.", attr, type(self).__name__
                        )
                        setattr(new, attr, value)
            return new

    def reset_copy(self) -> Self:
        new = self.deepcopy()
        for param in new.parameters():
            param.reset()
        return new

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["history"] = []
        state["callbacks"] = []
        return state

    # -- state ---------------------------------------------------------------------------------------
    def dump_state(self, json_mode: bool = True) -> dict[str, Any]:
        return {name: param.dump_state(json_mode=json_mode) for name, param in self.named_parameters()}

    def load_state(self, state: dict[str, Any], *, allow_unsafe_lm_state: bool = False) -> Self:
        """Apply saved state; all or nothing: a trial load on a copy raises before `self` is touched."""
        params = self.named_parameters()
        missing = [name for name, _ in params if name not in state]
        if missing:
            raise KeyError(
                f"Saved state has no entry for {missing} (it has {sorted(k for k in state if k != 'metadata')})."
            )
        trial = self.deepcopy()
        for name, param in trial.named_parameters():
            param.load_state(state[name], allow_unsafe_lm_state=allow_unsafe_lm_state)
        for name, param in params:
            param.load_state(state[name], allow_unsafe_lm_state=allow_unsafe_lm_state)
        return self

    def save(self, path: str | Path, save_program: bool = False, modules_to_serialize: Any = None) -> None:
        from dspy_ash.primitives._saving import save_state

        save_state(self, Path(path), save_program=save_program)

    def load(self, path: str | Path, allow_pickle: bool = False, allow_unsafe_lm_state: bool = False) -> Self:
        from dspy_ash.primitives._saving import read_state

        state = read_state(Path(path), allow_pickle=allow_pickle)
        return self.load_state(state, allow_unsafe_lm_state=allow_unsafe_lm_state)


BaseModule = Module


class _ModuleCall:
    """What surrounds every module call, sync or async: the caller stack for history, the module events,
    and (with `track_usage`) a usage tracker whose totals are attached to the returned Prediction."""

    __slots__ = ("_result", "_scope", "_token", "_tracker", "_tracking")

    def __init__(self, module: Module, kwargs: dict[str, Any]) -> None:
        self._token = events.caller_modules.set((*events.caller_modules.get(), module))
        self._scope = events.start("module", type(module).__name__, module, kwargs, module.callbacks)
        self._tracking = None
        self._tracker: usage_module.UsageTracker | None = None
        if read("track_usage") and usage_module.current_tracker() is None:
            self._tracking = usage_module.track_usage()
            self._tracker = self._tracking.__enter__()
        self._result: Any = None

    def __enter__(self) -> _ModuleCall:
        return self

    def returned(self, result: Any) -> Any:
        self._result = result
        return result

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if self._tracking is not None:
            self._tracking.__exit__(exc_type, exc, tb)
            if exc is None and self._tracker is not None:
                _attach_usage(self._result, self._tracker)
        events.caller_modules.reset(self._token)
        if self._scope is not None:
            if exc is not None:
                self._scope.fail(exc)
            else:
                self._scope.end(self._result)


def _add_container_item(add: Callable[[str, Any], None], name: str, item: Any) -> None:
    if isinstance(item, Parameter):
        add(name, item)
    elif isinstance(item, Module) and not getattr(item, "_compiled", False):
        for sub_name, param in item.named_parameters():
            add(f"{name}.{sub_name}", param)


def set_attribute_by_name(root: Any, path: str, value: Any) -> None:
    """Set `a.b[0]['k']`-style paths as named_parameters produces them."""
    import re

    parts = re.findall(r"\.?([A-Za-z_]\w*)|\[(\d+)\]|\['([^']*)'\]", path)
    target = root
    for i, (attr, index, key) in enumerate(parts):
        last = i == len(parts) - 1
        if attr:
            if last:
                setattr(target, attr, value)
            else:
                target = getattr(target, attr)
        elif index:
            if last:
                target[int(index)] = value
            else:
                target = target[int(index)]
        else:
            if last:
                target[key] = value
            else:
                target = target[key]


def _attach_usage(result: Any, tracker: usage_module.UsageTracker) -> None:
    if hasattr(result, "set_lm_usage"):
        result.set_lm_usage(tracker.get_total_tokens())


def _warn_when_called_directly(forward: Callable[..., Any]) -> Callable[..., Any]:
    """`forward` that warns, as DSPy does, when user code calls it instead of the module: that skips the
    callbacks, usage tracking and history. (A wrapper per class rather than DSPy's `__getattribute__`
    hook, which would tax every attribute read.)"""

    @functools.wraps(forward)
    def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
        caller = sys._getframe(1)  # pyright: ignore[reportPrivateUsage]
        if caller.f_code.co_name != "__call__" and not str(caller.f_globals.get("__name__", "")).startswith(
            "dspy_ash."
        ):
            logger.warning(
                "Calling module.forward(...) on %s directly is discouraged. Please use module(...) instead.",
                type(self).__name__,
            )
        return forward(self, *args, **kwargs)

    checked.__dspy_ash_warns__ = True  # pyright: ignore[reportAttributeAccessIssue]
    return checked
