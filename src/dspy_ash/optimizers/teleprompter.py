"""`Teleprompter`: the optimizer base. `compile` (sync, DSPy's name) drives the async `acompile`.

Subclasses implement `acompile`. `compile(...)` runs it to completion from sync code (also inside
a running event loop, see `dspy_ash._sync`) and wraps it in a `compile` event scope so subscribers
see start and end. While a compile runs, `self.progress(...)` emits `progress` events that carry
the LM calls and cost spent so far.
"""

from __future__ import annotations

from typing import Any

from dspy_ash import events
from dspy_ash._sync import run_sync
from dspy_ash.lm import usage as usage_module


class Teleprompter:
    def __init__(self) -> None:
        pass

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
        scope = events.start("compile", type(self).__name__, self, {"student": student, **kwargs})
        try:
            with usage_module.track_usage() as tracker:
                result = await self.acompile(student, *args, **kwargs)
        except BaseException as exc:
            if scope is not None:
                scope.fail(exc)
            raise
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
