"""Token counting: a named estimate always, exact counts only with tiktoken."""

from __future__ import annotations

import sys

import pytest

from dspy_ash.errors import UnsupportedFeatureError
from dspy_ash.lm import _tokens as tokens
from dspy_ash.lm._lm import LM


def test_estimate_grows_with_text() -> None:
    short = tokens.estimate_tokens([{"role": "user", "content": "hi"}])
    long = tokens.estimate_tokens([{"role": "user", "content": "hi " * 400}])
    assert short < long
    assert long == pytest.approx(1200 / 4 + 4, abs=2)
    parts = [{"role": "user", "content": [{"type": "text", "text": "x" * 400}]}]
    assert tokens.estimate_tokens(parts) == 104


def test_without_tiktoken_count_refuses_and_estimate_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # import fails
    tokens._encoding.cache_clear()
    lm = LM("openai/gpt-4o-mini", api_key="k")
    try:
        with pytest.raises(UnsupportedFeatureError, match="estimate_tokens"):
            lm.count_tokens("hello there")
        assert lm.estimate_tokens("hello there") == 6
        assert tokens.count_tokens([{"role": "user", "content": "abcd" * 10}]) == (14, False)
    finally:
        tokens._encoding.cache_clear()


def test_with_a_tokenizer_count_is_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    class Encoding:
        def encode(self, text: str) -> list[int]:
            return list(range(len(text.split())))

    monkeypatch.setattr(tokens, "_encoding", lambda model: Encoding())
    lm = LM("openai/gpt-4o-mini", api_key="k")
    assert lm.count_tokens("one two three") == 3 + 4
