"""One observed call: an event scope opened around a function, failed or ended with what it did.

`events.start` returns None at no cost when nobody listens; these helpers then call straight through.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from dspy_ash import events

T = TypeVar("T")


def observed(
    kind: events.Kind,
    name: str,
    target: Any,
    inputs: dict[str, Any],
    call: Callable[[], T],
    callbacks: Sequence[Any] = (),
) -> T:
    return events.run_in_scope(events.start(kind, name, target, inputs, callbacks), call)


async def aobserved(
    kind: events.Kind,
    name: str,
    target: Any,
    inputs: dict[str, Any],
    call: Callable[[], Awaitable[T]],
    callbacks: Sequence[Any] = (),
) -> T:
    return await events.arun_in_scope(events.start(kind, name, target, inputs, callbacks), call)
