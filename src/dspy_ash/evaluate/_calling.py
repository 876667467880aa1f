"""Calling user code from the async engine: programs on examples, and metrics of any flavour."""

from __future__ import annotations

import inspect
from typing import Any

from dspy_ash._sync import call_sync
from dspy_ash.evaluate._metrics import answer_exact_match, answer_passage_match
from dspy_ash.modules._calling import acall_part
from dspy_ash.primitives._module import Module

# A worker thread per call costs tens of µs per example; these built-in metrics are plain string work.
_INLINE_METRICS: tuple[Any, ...] = (answer_exact_match, answer_passage_match)


async def call_metric(metric: Any, *args: Any, on_this_thread: bool = False) -> Any:
    """Await a metric whether it is a Module, an async function or a plain sync function.

    Sync metrics run on a worker thread (`dspy_ash._sync.call_sync`), so one that calls an LM (an LM
    judge written as a plain function) or blocks never holds up the other tasks. With `on_this_thread`
    (nothing else runs meanwhile: one example at a time) a sync metric runs here, as DSPy runs it in
    the caller's thread when `num_threads=1`.
    """
    inline = on_this_thread or any(metric is m for m in _INLINE_METRICS)  # built-ins: plain string work
    if inline and not isinstance(metric, Module) and not _is_async(metric):
        result = metric(*args)
        return await result if inspect.isawaitable(result) else result
    if isinstance(metric, Module):
        return await metric.acall(*args)
    if _is_async(metric):
        return await metric(*args)
    result = await call_sync(metric, *args)
    if inspect.isawaitable(result):
        return await result
    return result


def _is_async(metric: Any) -> bool:
    return inspect.iscoroutinefunction(metric) or inspect.iscoroutinefunction(type(metric).__call__)


async def run_program(program: Any, example: Any) -> Any:
    """`program(**example.inputs())`, natively async for Modules and bridged for plain callables."""
    return await acall_part(program, **dict(example.inputs().items()))


def metric_name(metric: Any) -> str:
    return metric.__name__ if inspect.isfunction(metric) else type(metric).__name__
