"""Test helpers for users of dspy-ash: a scripted LM (`DummyLM`) and fake provider HTTP servers on
127.0.0.1 that speak the real wire formats (`FakeOpenAIServer`, `FakeAnthropicServer`, with `Reply` and
`Fault` to script them). The servers load aiohttp's web module only when first used.
`dspy_ash.testing.standins` holds the examples' offline stand-in models: server handlers that answer
from the prompt alone and are not language models."""

from __future__ import annotations

from dspy_ash._lazy import lazy_getattr
from dspy_ash.testing.dummy import DummyLM

_SERVERS = {
    name: "dspy_ash.testing.fake_servers"
    for name in ("FakeAnthropicServer", "FakeOpenAIServer", "Fault", "Reply")
}

__all__ = ["DummyLM", "FakeAnthropicServer", "FakeOpenAIServer", "Fault", "Reply"]  # pyright: ignore[reportUnsupportedDunderAll]


__getattr__ = lazy_getattr(__name__, _SERVERS)
