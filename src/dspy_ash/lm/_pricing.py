"""Cost of a call from its usage and a small price table (USD per million tokens).

The table covers common OpenAI and Anthropic models at their list prices; it is a convenience, not a
bill. Override or extend it per LM (`LM(..., prices={"my-model": (0.2, 0.8)})`) or for the process
(`register_prices`). Names match by longest prefix, so dated snapshots (`gpt-4o-2024-08-06`) find
their family. Unknown models cost None (unknown), never 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dspy_ash.lm._types import Usage


@dataclass(frozen=True, slots=True)
class Price:
    input: float
    output: float
    cached_input: float | None = None  # None: cached prompt tokens cost the full input price


PriceLike = Price | tuple[float, float] | tuple[float, float, float]

PRICES: dict[str, Price] = {
    "gpt-3.5-turbo": Price(0.50, 1.50),
    "gpt-4o": Price(2.50, 10.00, 1.25),
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "gpt-4.1": Price(2.00, 8.00, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "gpt-5": Price(1.25, 10.00, 0.125),
    "gpt-5-mini": Price(0.25, 2.00, 0.025),
    "gpt-5-nano": Price(0.05, 0.40, 0.005),
    "o1": Price(15.00, 60.00, 7.50),
    "o3": Price(2.00, 8.00, 0.50),
    "o3-mini": Price(1.10, 4.40, 0.55),
    "o4-mini": Price(1.10, 4.40, 0.275),
    "claude-3-haiku": Price(0.25, 1.25, 0.03),
    "claude-3-5-haiku": Price(0.80, 4.00, 0.08),
    "claude-haiku-4-5": Price(1.00, 5.00, 0.10),
    "claude-3-5-sonnet": Price(3.00, 15.00, 0.30),
    "claude-3-7-sonnet": Price(3.00, 15.00, 0.30),
    "claude-sonnet-4": Price(3.00, 15.00, 0.30),
    "claude-opus-4": Price(15.00, 75.00, 1.50),
    "claude-opus-4-5": Price(5.00, 25.00, 0.50),
}


def as_price(value: PriceLike) -> Price:
    return value if isinstance(value, Price) else Price(*value)


# model string -> its price in PRICES; a lookup per call would scan the table (it is on every call's path)
_found: dict[str, Price | None] = {}


def register_prices(prices: Mapping[str, PriceLike]) -> None:
    """Add or replace entries of the process-wide table."""
    PRICES.update({name: as_price(p) for name, p in prices.items()})
    _found.clear()


def _lookup(model: str, table: Mapping[str, Price]) -> Price | None:
    for candidate in (model, model.rsplit("/", 1)[-1]):
        best = max((k for k in table if candidate.startswith(k)), key=len, default=None)
        if best is not None:
            return table[best]
    return None


def find_price(model: str, overrides: Mapping[str, Price] | None = None) -> Price | None:
    """The price for `model` ('provider/name' or 'name'): overrides first, then the table, longest prefix wins."""
    if overrides:
        price = _lookup(model, overrides)
        if price is not None:
            return price
    if model not in _found:
        _found[model] = _lookup(model, PRICES)
    return _found[model]


def cost_of(model: str, usage: Usage, overrides: Mapping[str, Price] | None = None) -> float | None:
    price = find_price(model, overrides)
    if price is None:
        return None
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    cached_rate = price.input if price.cached_input is None else price.cached_input
    return (
        (usage.prompt_tokens - cached) * price.input
        + cached * cached_rate
        + usage.completion_tokens * price.output
    ) / 1_000_000
