"""Demos, examples and metric scores in checkpoint form (plain JSON) and back."""

from __future__ import annotations

from typing import Any

from dspy_ash.primitives._example import Example


def demo_to_json(demo: Any) -> dict[str, Any]:
    return demo.toDict() if hasattr(demo, "toDict") else dict(demo)


def demo_from_json(data: dict[str, Any]) -> Example:
    return Example(**data)


def score_to_json(score: Any) -> Any:
    """Metric scores as JSON: bools and numbers stay, a Prediction with a score becomes its float."""
    if isinstance(score, bool | int | float) or score is None:
        return score
    return float(score)
