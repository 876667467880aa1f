"""`Teleprompter`: the optimizer base. `compile` (sync, DSPy's name) drives the async `acompile`.

Subclasses implement `acompile`. `compile(...)` runs it to completion from sync code (also inside
a running event loop, see `dspy_ash._sync`) and wraps it in a `compile` event scope so subscribers
see start and end. While a compile runs, `self.progress(...)` emits `progress` events that carry
the LM calls and cost spent so far.
"""

from __future__ import annotations

import inspect
from typing import Any

from dspy_ash import events
from dspy_ash._sync import run_sync
from dspy_ash.lm import usage as usage_module

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
        _check_compile_arguments(self, kwargs)
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
