"""Modules against the fake OpenAI-compatible server over a real 127.0.0.1 socket, no LM cache."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from dspy_ash.lm._lm import LM
from dspy_ash.testing.fake_servers import FakeOpenAIServer

KEY = "sk-modules"


@pytest.fixture
async def server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer(require_key=KEY) as s:
        yield s


@pytest.fixture
def make_lm(server: FakeOpenAIServer) -> Callable[..., LM]:
    def make(**kwargs: Any) -> LM:
        options: dict[str, Any] = {
            "api_base": server.api_base,
            "api_key": KEY,
            "cache": False,
            "num_retries": 0,
        }
        options.update(kwargs)
        return LM("openai/gpt-4o-mini", **options)

    return make
