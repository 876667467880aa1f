"""Test helpers for users of dspy-ash: a scripted LM (`DummyLM`) and fake provider HTTP servers on
127.0.0.1 that speak the real wire formats (`FakeOpenAIServer`, `FakeAnthropicServer`, with `Reply` and
`Fault` to script them). The servers load aiohttp's web module only when first used."""

from __future__ import annotations

import importlib
from typing import Any

from dspy_ash.testing.dummy import DummyLM

_SERVERS = {"FakeAnthropicServer", "FakeOpenAIServer", "Fault", "Reply"}

__all__ = ["DummyLM", "FakeAnthropicServer", "FakeOpenAIServer", "Fault", "Reply"]  # pyright: ignore[reportUnsupportedDunderAll]


def __getattr__(name: str) -> Any:
    if name in _SERVERS:
        return getattr(importlib.import_module("dspy_ash.testing.fake_servers"), name)
    raise AttributeError(f"module 'dspy_ash.testing' has no attribute {name!r}")
