"""Awaiting the parts a module is built from when users swap them for plain objects, as DSPy allows.

DSPy calls sub-predictors and interpreters synchronously, so a test or a program may replace
`pot.code_generate` with any callable, or pass an interpreter that has only `execute` / `shutdown`
(DSPy's `CodeInterpreter` protocol). dspy-ash awaits them natively when it can and bridges otherwise.
"""

from __future__ import annotations

import inspect
from typing import Any

from dspy_ash._sync import call_sync
from dspy_ash.primitives._module import Module


async def acall_part(part: Any, *args: Any, **kwargs: Any) -> Any:
    """`part(*args, **kwargs)`: awaited for a Module, an object with an async `acall` or an async callable;
    anything else runs as sync code on a worker thread (and an awaitable it returns is awaited)."""
    if isinstance(part, Module):
        return await part.acall(*args, **kwargs)
    acall = getattr(part, "acall", None)
    if acall is not None and inspect.iscoroutinefunction(acall):
        return await acall(*args, **kwargs)
    if inspect.iscoroutinefunction(part) or inspect.iscoroutinefunction(type(part).__call__):
        return await part(*args, **kwargs)
    result = await call_sync(part, *args, **kwargs)
    return await result if inspect.isawaitable(result) else result


async def aexecute(interpreter: Any, code: str, variables: dict[str, Any] | None = None) -> Any:
    """Run code on dspy-ash's interpreter (`aexecute`) or on any DSPy-protocol one (`execute`)."""
    run = getattr(interpreter, "aexecute", None)
    if run is not None and inspect.iscoroutinefunction(run):
        return await run(code, variables)
    return await call_sync(interpreter.execute, code, variables)


async def ashutdown(interpreter: Any) -> None:
    stop = getattr(interpreter, "ashutdown", None)
    if stop is not None and inspect.iscoroutinefunction(stop):
        await stop()
    else:
        await call_sync(interpreter.shutdown)
