"""Test helpers for users of dspy-ash: a scripted LM (`DummyLM`) and fake provider HTTP servers on
127.0.0.1 that speak the real wire formats (`FakeOpenAIServer`, `FakeAnthropicServer`, `FakeCohereServer`, with `Reply` and
`Fault` to script them). The servers load aiohttp's web module only when first used.
`dspy_ash.testing.standins` holds the examples' offline stand-in models: server handlers that answer
from the prompt alone and are not language models."""

# Only public names at module level (no `from __future__ import annotations`, imports under private
# names), as in `dspy_ash/__init__.py`: the public names in `dir()` are exactly the exports.
from typing import TYPE_CHECKING as _TYPE_CHECKING

from dspy_ash._lazy import lazy_getattr as _lazy_getattr

_EXPORTS: dict[str, str] = {
    "DummyLM": "dspy_ash.testing.dummy:DummyLM",
    "FakeAnthropicServer": "dspy_ash.testing.fake_servers:FakeAnthropicServer",
    "FakeCohereServer": "dspy_ash.testing.fake_servers:FakeCohereServer",
    "FakeOpenAIServer": "dspy_ash.testing.fake_servers:FakeOpenAIServer",
    "Fault": "dspy_ash.testing.fake_servers:Fault",
    "Reply": "dspy_ash.testing.fake_servers:Reply",
}

__all__ = sorted(_EXPORTS)  # pyright: ignore[reportUnsupportedDunderAll]

if _TYPE_CHECKING:  # what type checkers see; tests/unit/core/test_static_api.py keeps it equal to _EXPORTS
    from dspy_ash.testing.dummy import DummyLM as DummyLM
    from dspy_ash.testing.fake_servers import FakeAnthropicServer as FakeAnthropicServer
    from dspy_ash.testing.fake_servers import FakeCohereServer as FakeCohereServer
    from dspy_ash.testing.fake_servers import FakeOpenAIServer as FakeOpenAIServer
    from dspy_ash.testing.fake_servers import Fault as Fault
    from dspy_ash.testing.fake_servers import Reply as Reply


__getattr__ = _lazy_getattr(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
