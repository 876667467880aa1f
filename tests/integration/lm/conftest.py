"""LM integration tests: fake provider servers on 127.0.0.1, a fresh cache per test, instant backoff."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from wire_fakes import API_KEY, Sleeps

from dspy_ash.lm import _cache as cache_module
from dspy_ash.lm._history import GLOBAL_HISTORY
from dspy_ash.lm._lm import LM
from dspy_ash.lm._retry import Backoff
from dspy_ash.testing.fake_servers import FakeAnthropicServer, FakeOpenAIServer


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path) -> Iterator[None]:
    cache_module.configure_cache(disk_cache_dir=tmp_path / "lm-cache")
    GLOBAL_HISTORY.clear()
    yield
    cache_module._cache = None
    GLOBAL_HISTORY.clear()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def openai_server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer(require_key=API_KEY) as server:
        yield server


@pytest.fixture
async def anthropic_server() -> AsyncIterator[FakeAnthropicServer]:
    async with FakeAnthropicServer(require_key=API_KEY) as server:
        yield server


@pytest.fixture
def make_lm(sleeps: Sleeps):  # type: ignore[no-untyped-def]
    def make(model: str, server: FakeOpenAIServer | FakeAnthropicServer, **kwargs: Any) -> LM:
        kwargs.setdefault("api_key", API_KEY)
        kwargs.setdefault("backoff", Backoff(sleep=sleeps))
        return LM(model, api_base=server.api_base, **kwargs)

    return make
