"""`asyncify` / `syncify`: DSPy's helpers. Programs are natively async here: no thread pool of its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from dspy_ash._sync import run_sync


def asyncify(program: Any) -> Callable[..., Awaitable[Any]]:
    """An async function calling `program`: its native `acall` (sync `forward`s run on worker threads)."""

    async def run(*args: Any, **kwargs: Any) -> Any:
        return await program.acall(*args, **kwargs)

    return run


def syncify(program: Any, in_place: bool = True) -> Any:
    """A sync callable over an async program (or function)."""
    if hasattr(program, "acall"):
        return program  # modules are already callable both ways

    def run(*args: Any, **kwargs: Any) -> Any:
        return run_sync(program(*args, **kwargs))

    return run
