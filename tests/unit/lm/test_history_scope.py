"""Scoped LM history: calls under `history_scope()` are recorded into that scope's list, not the
process-wide one, so concurrent callers never see each other's prompts."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from typing import Any

import pytest

import dspy_ash as dspy
from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._history import (
    GLOBAL_HISTORY,
    disable_global_history,
    enable_global_history,
    history_scope,
)
from dspy_ash.lm._types import Choice, LMRequest, LMResponse


class EchoLM(BaseLM):
    """Replies with the prompt, after yielding to the loop so concurrent callers interleave."""

    def __init__(self) -> None:
        super().__init__("echo", cache=False)

    async def request(self, req: LMRequest) -> LMResponse:
        await asyncio.sleep(0.01)
        return LMResponse(choices=[Choice(text=f"echo {req.messages[-1]['content']}")], model="echo")


def _prompts(history: list[dict[str, Any]]) -> list[str]:
    return [entry["messages"][-1]["content"] for entry in history]


@pytest.fixture
def global_history_on() -> Iterator[None]:
    yield
    enable_global_history()


async def test_concurrent_scopes_see_only_their_own_calls():
    lm = EchoLM()  # one LM shared by both callers, as in a server
    lm("before")  # an unscoped call: recorded globally, as in DSPy
    assert _prompts(GLOBAL_HISTORY) == ["before"]
    both_started = asyncio.Barrier(2)

    async def tenant(name: str) -> tuple[list[dict[str, Any]], str]:
        with history_scope() as history:
            await both_started.wait()
            for i in range(3):
                await lm.acall(f"{name} {i}")
            printed = io.StringIO()
            dspy.inspect_history(n=10, file=printed)
        return history, printed.getvalue()

    (a, a_printed), (b, b_printed) = await asyncio.gather(tenant("alice"), tenant("bob"))

    assert _prompts(a) == ["alice 0", "alice 1", "alice 2"]
    assert _prompts(b) == ["bob 0", "bob 1", "bob 2"]
    assert "alice 2" in a_printed and "bob" not in a_printed
    assert "bob 2" in b_printed and "alice" not in b_printed
    assert _prompts(GLOBAL_HISTORY) == ["before"]  # the global history is untouched by scoped calls
    assert len(lm.history) == 7  # the LM's own history still records every call, as in DSPy


def test_sync_calls_and_programs_record_into_the_scope_given():
    lm = EchoLM()
    mine: list[dict[str, Any]] = []
    with dspy.context(lm=dspy.testing.DummyLM([{"answer": "4"}])), history_scope(mine) as history:
        assert history is mine
        lm("sync call")  # through the sync bridge's loop thread
        assert dspy.Predict("question -> answer")(question="2+2?").answer == "4"
    assert _prompts(mine)[0] == "sync call" and len(mine) == 2
    assert "question" in mine[1]["messages"][-1]["content"]
    assert GLOBAL_HISTORY == []


def test_scopes_nest_and_end_with_their_block():
    lm = EchoLM()
    with history_scope() as outer:
        lm("outer 1")
        with history_scope() as inner:
            lm("inner")
        lm("outer 2")
    lm("global")
    assert _prompts(outer) == ["outer 1", "outer 2"]
    assert _prompts(inner) == ["inner"]
    assert _prompts(GLOBAL_HISTORY) == ["global"]


def test_scoped_history_is_bounded_like_the_global_one():
    lm = EchoLM()
    with dspy.context(max_history_size=3), history_scope() as history:
        for i in range(40):
            lm(f"call {i}")
    assert len(history) == 3  # exact, as DSPy's
    assert _prompts(history)[-1] == "call 39"


def test_disabled_global_history_records_nothing_outside_scopes(global_history_on):
    lm = EchoLM()
    disable_global_history()
    lm("secret")
    with history_scope() as history:
        lm("scoped")
    printed = io.StringIO()
    dspy.inspect_history(n=5, file=printed)
    assert GLOBAL_HISTORY == [] and "secret" not in printed.getvalue()
    assert _prompts(history) == ["scoped"]
    enable_global_history()
    lm("public")
    assert _prompts(GLOBAL_HISTORY) == ["public"]


async def test_a_sync_forward_on_a_worker_thread_records_into_the_callers_scope():
    lm = EchoLM()

    class SyncProgram(dspy.Module):
        def forward(self, text: str) -> str:
            return str(lm(text)[0])  # a sync LM call made on the sync bridge's worker thread

    with history_scope() as history:
        assert await SyncProgram().acall(text="from a thread") == "echo from a thread"
    assert _prompts(history) == ["from a thread"]
    assert GLOBAL_HISTORY == []


def test_a_long_history_is_trimmed_in_batches_and_never_far_past_its_limit() -> None:
    from dspy_ash.lm._history import append_bounded

    history: list[dict[str, Any]] = []
    sizes = set()
    for i in range(5000):
        append_bounded(history, {"i": i}, 2000)
        sizes.add(len(history))
    assert max(sizes) == 2000 + 2000 // 16  # batched past the exact range, within a sixteenth
    assert history[-1] == {"i": 4999} and len(history) >= 2000
    small: list[dict[str, Any]] = []
    for i in range(50):
        append_bounded(small, {"i": i}, 5)
        assert len(small) == min(i + 1, 5)
