"""Token and cost accounting across LM calls: `with track_usage() as t: ...; t.get_total_tokens()`."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_tracker: ContextVar[UsageTracker | None] = ContextVar("dspy_ash_usage_tracker", default=None)


class UsageTracker:
    """Sums usage per model. Nested trackers roll their totals up into the enclosing one."""

    def __init__(self) -> None:
        self.usage_data: dict[str, dict[str, Any]] = {}
        self.calls = 0
        self.cache_hits = 0

    def add_usage(
        self, model: str, usage: dict[str, Any], cost: float | None = None, cache_hit: bool = False
    ) -> None:
        self.calls += 1
        if cache_hit:
            self.cache_hits += 1
            return
        totals = self.usage_data.setdefault(model, {})
        _add_into(totals, usage)
        if cost is not None:
            totals["cost"] = totals.get("cost", 0.0) + cost

    def merge(self, other: UsageTracker) -> None:
        self.calls += other.calls
        self.cache_hits += other.cache_hits
        for model, usage in other.usage_data.items():
            _add_into(self.usage_data.setdefault(model, {}), usage)

    def get_total_tokens(self) -> dict[str, dict[str, Any]]:
        return {model: dict(usage) for model, usage in self.usage_data.items()}

    @property
    def total_cost(self) -> float:
        return sum(u.get("cost", 0.0) for u in self.usage_data.values())


def _add_into(totals: dict[str, Any], usage: Any) -> None:
    """Add one usage entry into running totals as DSPy's tracker sums entries: nested dicts (and pydantic
    models, as litellm reports details) per key, None as absent, counts summed, other values (flags, names)
    kept from the first entry that had them."""
    if hasattr(usage, "model_dump"):
        usage = usage.model_dump()
    for key, value in (usage or {}).items():
        if hasattr(value, "model_dump"):
            value = value.model_dump()
        current = totals.get(key)
        if isinstance(value, dict) or isinstance(current, dict):
            nested: dict[str, Any] = dict(current) if isinstance(current, dict) else {}  # pyright: ignore[reportUnknownArgumentType]
            _add_into(nested, value)
            totals[key] = nested
        elif current is None:
            if value is not None:
                totals[key] = value
        elif _is_count(current) and _is_count(value):
            totals[key] = current + value


def _is_count(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)  # a bool is a flag, not a count


def current_tracker() -> UsageTracker | None:
    return _tracker.get()


def record(model: str, usage: dict[str, Any], cost: float | None, cache_hit: bool) -> None:
    tracker = _tracker.get()
    if tracker is not None:
        tracker.add_usage(model, usage, cost, cache_hit)


@contextmanager
def track_usage() -> Generator[UsageTracker, None, None]:
    parent = _tracker.get()
    tracker = UsageTracker()
    token = _tracker.set(tracker)
    try:
        yield tracker
    finally:
        _tracker.reset(token)
        if parent is not None:
            parent.merge(tracker)
