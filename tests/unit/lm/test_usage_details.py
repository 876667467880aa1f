"""Usage totals sum the nested detail dicts providers report, as DSPy's tracker does."""

from __future__ import annotations

from pydantic import BaseModel

from dspy_ash.lm._usage import UsageTracker


class _Details(BaseModel):
    cached_tokens: int = 0


def test_nested_details_none_and_pydantic_entries_are_summed():
    tracker = UsageTracker()
    tracker.add_usage("m", {"prompt_tokens": 10, "prompt_tokens_details": None, "is_byok": True})
    tracker.add_usage(
        "m", {"prompt_tokens": 5, "prompt_tokens_details": {"cached_tokens": 3}, "is_byok": True}
    )
    tracker.add_usage("m", {"prompt_tokens": 1, "prompt_tokens_details": _Details(cached_tokens=4)})
    totals = tracker.get_total_tokens()["m"]
    assert totals["prompt_tokens"] == 16
    assert totals["prompt_tokens_details"] == {"cached_tokens": 7}
    assert totals["is_byok"] is True  # a flag is kept, not counted


def test_nested_trackers_merge_details():
    outer, inner = UsageTracker(), UsageTracker()
    outer.add_usage("m", {"completion_tokens_details": {"reasoning_tokens": 2}})
    inner.add_usage("m", {"completion_tokens_details": {"reasoning_tokens": 5}})
    outer.merge(inner)
    assert outer.get_total_tokens()["m"]["completion_tokens_details"] == {"reasoning_tokens": 7}
