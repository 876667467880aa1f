"""Demos and examples in checkpoint form (plain JSON) and back."""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any

from dspy_ash.primitives.example import Example


def demo_to_json(demo: Any) -> dict[str, Any]:
    return demo.toDict() if hasattr(demo, "toDict") else dict(demo)


def demo_from_json(data: dict[str, Any]) -> Example:
    return Example(**data)


def pick_one_demo(demos: list[Example]) -> Example:
    """A predictor called several times in one run contributes one demo: 50% the last call, else a
    random earlier one. DSPy seeds this choice with a pickle hash of its own classes; we seed it with a
    hash of the demos' JSON, stable across processes (the only choice that differs from DSPy's)."""
    text = json.dumps([demo_to_json(d) for d in demos], sort_keys=True, default=str)
    rng = random.Random(int(hashlib.sha256(text.encode()).hexdigest(), 16))
    return rng.choice(demos[:-1]) if rng.random() < 0.5 else demos[-1]


def score_to_json(score: Any) -> Any:
    """Metric scores as JSON: bools and numbers stay, a Prediction with a score becomes its float."""
    if isinstance(score, bool | int | float) or score is None:
        return score
    return float(score)
