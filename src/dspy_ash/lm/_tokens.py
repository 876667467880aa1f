"""Counting prompt tokens: exact with tiktoken when it is installed, else a clearly named estimate."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

_PER_MESSAGE = 4  # role and separators, as OpenAI's chat format counts them
_CHARS_PER_TOKEN = 4  # English text averages about four characters per token across common tokenizers


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return "" if content is None else json.dumps(content, default=str)


def estimate_tokens(messages: list[dict[str, Any]]) -> int:
    """A quick estimate (characters / 4 plus a few per message). Used to pace tokens-per-minute limits."""
    chars = sum(len(_text(m.get("content"))) for m in messages)
    return chars // _CHARS_PER_TOKEN + _PER_MESSAGE * len(messages)


@lru_cache(maxsize=8)
def _encoding(model: str) -> Any:
    try:
        import tiktoken
    except ImportError:
        return None
    try:
        try:
            return tiktoken.encoding_for_model(model)
        except KeyError:  # not an OpenAI model: the current OpenAI encoding is the closest guess
            return tiktoken.get_encoding("o200k_base")
    except Exception:  # the encoding file could not be loaded (offline): fall back to the estimate
        return None


def count_tokens(messages: list[dict[str, Any]], model: str = "gpt-4o") -> tuple[int, bool]:
    """(tokens, exact): tiktoken's count when tiktoken is installed and its encoding loads, else the estimate.

    tiktoken downloads its encoding file on first use unless it is cached (TIKTOKEN_CACHE_DIR)."""
    encoding = _encoding(model)
    if encoding is None:
        return estimate_tokens(messages), False
    total = sum(len(encoding.encode(_text(m.get("content")))) + _PER_MESSAGE for m in messages)
    return total, True
