"""The HTTP providers behind `LM`: one client per wire format. Names load lazily."""

# Only public names at module level, as in `dspy_ash/__init__.py`.
from typing import TYPE_CHECKING as _TYPE_CHECKING

from dspy_ash._lazy import lazy_getattr as _lazy_getattr

_EXPORTS: dict[str, str] = {
    "AnthropicLM": "dspy_ash.lm.providers._anthropic:AnthropicLM",
    "CohereLM": "dspy_ash.lm.providers._cohere:CohereLM",
    "Endpoint": "dspy_ash.lm.providers._base:Endpoint",
    "HTTPProviderLM": "dspy_ash.lm.providers._base:HTTPProviderLM",
    "OllamaChatLM": "dspy_ash.lm.providers._ollama:OllamaChatLM",
    "OpenAICompatLM": "dspy_ash.lm.providers._openai_compat:OpenAICompatLM",
}

__all__ = sorted(_EXPORTS)  # pyright: ignore[reportUnsupportedDunderAll]

if _TYPE_CHECKING:  # what type checkers see; tests/unit/core/test_static_api.py keeps it equal to _EXPORTS
    from dspy_ash.lm.providers._anthropic import AnthropicLM as AnthropicLM
    from dspy_ash.lm.providers._base import Endpoint as Endpoint
    from dspy_ash.lm.providers._base import HTTPProviderLM as HTTPProviderLM
    from dspy_ash.lm.providers._cohere import CohereLM as CohereLM
    from dspy_ash.lm.providers._ollama import OllamaChatLM as OllamaChatLM
    from dspy_ash.lm.providers._openai_compat import OpenAICompatLM as OpenAICompatLM


__getattr__ = _lazy_getattr(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
