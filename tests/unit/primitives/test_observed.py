"""Calls that are not Module calls (tools, Retrieve, adapters' format/parse) announce themselves the
same way: a start event, then an end event with the result or with the exception that escaped."""

from __future__ import annotations

import asyncio

import pytest

import dspy_ash as dspy
from dspy_ash import events


def _kinds(seen: list[events.Event]) -> list[tuple[str, str, str | None]]:
    return [(e.kind, e.phase, type(e.error).__name__ if e.error else None) for e in seen]


def test_tool_calls_sync_and_async_end_with_result_or_error():
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    async def boom(a: int) -> int:
        """Always fails."""
        raise KeyError(a)

    seen: list[events.Event] = []
    with dspy.context(callbacks=[seen.append]):
        assert dspy.Tool(add)(a=1, b=2) == 3
        with pytest.raises(KeyError):
            asyncio.run(dspy.Tool(boom).acall(a=1))
    assert _kinds(seen) == [
        ("tool", "start", None),
        ("tool", "end", None),
        ("tool", "start", None),
        ("tool", "end", "KeyError"),
    ]
    assert seen[1].outputs == 3


def test_retrieve_is_announced_as_a_module_call():
    class RM:
        def __call__(self, query, k=3, **kwargs):
            return [f"passage about {query}"]

    seen: list[events.Event] = []
    with dspy.context(rm=RM(), callbacks=[seen.append]):
        out = dspy.Retrieve(k=1)("cats")
    assert out.passages == ["passage about cats"]
    assert _kinds(seen) == [("module", "start", None), ("module", "end", None)]
    assert seen[0].name == "Retrieve" and seen[1].outputs is out
