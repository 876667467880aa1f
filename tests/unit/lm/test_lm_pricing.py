"""Cost from usage and the price table."""

from __future__ import annotations

import pytest

from dspy_ash.lm import _pricing as pricing
from dspy_ash.lm._pricing import Price, cost_of, find_price, register_prices
from dspy_ash.lm._types import Usage


def test_longest_prefix_wins() -> None:
    assert find_price("openai/gpt-4o-mini-2024-07-18") == pricing.PRICES["gpt-4o-mini"]
    assert find_price("gpt-4o-2024-08-06") == pricing.PRICES["gpt-4o"]
    assert find_price("anthropic/claude-sonnet-4-5-20250929") == pricing.PRICES["claude-sonnet-4"]
    assert find_price("o3-mini") == pricing.PRICES["o3-mini"]
    assert find_price("together_ai/meta-llama/Llama-3-8b") is None


def test_cost_counts_cached_tokens_at_their_price() -> None:
    usage = Usage(
        prompt_tokens=1_000_000, completion_tokens=1_000_000, total_tokens=2_000_000, cached_tokens=400_000
    )
    # gpt-4o: 2.50 in, 10.00 out, 1.25 cached
    assert cost_of("openai/gpt-4o", usage) == pytest.approx(0.6 * 2.5 + 0.4 * 1.25 + 10.0)


def test_unknown_model_costs_none() -> None:
    assert cost_of("vllm/my-model", Usage(10, 10, 20)) is None


def test_overrides_per_lm_and_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    usage = Usage(1_000_000, 0, 1_000_000)
    assert cost_of("vllm/my-model", usage, {"my-model": Price(0.2, 0.8)}) == pytest.approx(0.2)
    assert cost_of("openai/gpt-4o", usage, {"gpt-4o": Price(1.0, 1.0)}) == pytest.approx(1.0)
    monkeypatch.setattr(pricing, "PRICES", dict(pricing.PRICES))
    monkeypatch.setattr(pricing, "_found", {})
    register_prices({"my-model": (0.5, 1.0)})
    assert cost_of("vllm/my-model", usage) == pytest.approx(0.5)
