"""Test doubles for LM unit tests: a scripted inner LM and a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._types import Choice, LMRequest, LMResponse, Usage


class ScriptedLM(BaseLM):
    """An inner LM that answers from a script of texts or exceptions and counts its calls."""

    def __init__(
        self,
        script: list[str | BaseException] | None = None,
        on_call: Callable[[LMRequest], None] | None = None,
        gate: asyncio.Event | None = None,
    ) -> None:
        super().__init__("scripted/model", cache=False)
        self.script = list(script or [])
        self.calls: list[LMRequest] = []
        self.on_call = on_call
        self.gate = gate  # when set, each call waits for it (to hold calls in flight)

    async def request(self, req: LMRequest) -> LMResponse:
        self.calls.append(req)
        if self.on_call is not None:
            self.on_call(req)
        if self.gate is not None:
            await self.gate.wait()
        item = self.script.pop(0) if self.script else "ok"
        if isinstance(item, BaseException):
            raise item
        return LMResponse(choices=[Choice(text=item)], usage=Usage(10, 5, 15), model="scripted")


class FakeTime:
    """A clock and a sleep that advances it instantly; records every sleep."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
