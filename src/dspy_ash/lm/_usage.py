"""Token and cost accounting across LM calls: `with track_usage() as t: ...; t.get_total_tokens()`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

from dspy_ash.settings import read, settings


class UsageTracker:
    """DSPy's tracker: the usage entries of every call, per model (`usage_data`), summed on demand.
    Nested trackers roll their entries up into the enclosing one when they close."""

    def __init__(self) -> None:
        self.usage_data: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        self.calls = 0
        self.cache_hits = 0

    def add_usage(
        self, model: str, usage: dict[str, Any], cost: float | None = None, cache_hit: bool = False
    ) -> None:
        self.calls += 1
        if cache_hit:
            self.cache_hits += 1
            return
        entry = {k: v.model_dump() if hasattr(v, "model_dump") else v for k, v in (usage or {}).items()}
        if cost is not None:
            entry["cost"] = cost
        if entry:  # as DSPy: an empty entry is not kept
            self.usage_data[model].append(entry)

    def merge(self, other: UsageTracker) -> None:
        self.calls += other.calls
        self.cache_hits += other.cache_hits
        for model, entries in other.usage_data.items():
            self.usage_data[model].extend(entries)

    def get_total_tokens(self) -> dict[str, dict[str, Any]]:
        totals: dict[str, dict[str, Any]] = {}
        for model, entries in self.usage_data.items():
            summed: dict[str, Any] = {}
            for entry in entries:
                _add_into(summed, entry)
            totals[model] = summed
        return totals

    @property
    def total_cost(self) -> float:
        return sum(e.get("cost", 0.0) for entries in self.usage_data.values() for e in entries)


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
    """The tracker LM calls report to: DSPy's `settings.usage_tracker`."""
    tracker = read("usage_tracker")
    return tracker if isinstance(tracker, UsageTracker) else None


def record(model: str, usage: dict[str, Any], cost: float | None, cache_hit: bool) -> None:
    tracker = current_tracker()
    if tracker is not None:
        tracker.add_usage(model, usage, cost, cache_hit)


@contextmanager
def track_usage() -> Generator[UsageTracker, None, None]:
    """A new tracker for the block (as `settings.usage_tracker`); its entries go to the enclosing one after."""
    parent = current_tracker()
    tracker = UsageTracker()
    try:
        with settings.context(usage_tracker=tracker):
            yield tracker
    finally:
        if parent is not None:
            parent.merge(tracker)
