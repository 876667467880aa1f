"""`majority`: the most common value of a field across completions (ties go to the earliest)."""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable
from typing import Any

from dspy_ash.errors import InvalidInputTypeError
from dspy_ash.primitives._prediction import Completions, Prediction


def normalize_text(s: str) -> str:
    """SQuAD-style normalization, as DSPy's `normalize_text`: NFD, lowercase, no punctuation or articles."""
    s = unicodedata.normalize("NFD", s).lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def default_normalize(s: Any) -> str | None:
    return normalize_text(str(s)) or None


def majority(
    prediction_or_completions: Prediction | Completions | list[Any],
    normalize: Callable[[Any], Any] | None = default_normalize,
    field: str | None = None,
) -> Prediction:
    """Values that normalize to None are ignored (unless all do)."""
    # Callers without a type checker pass anything: the check stays.
    if not isinstance(prediction_or_completions, Prediction | Completions | list):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidInputTypeError("majority() takes a Prediction, Completions or a list of completions.")
    completions: Any = (
        prediction_or_completions.completions
        if isinstance(prediction_or_completions, Prediction)
        else prediction_or_completions
    )
    signature = getattr(completions, "signature", None)
    if not field:
        field = list(signature.output_fields)[-1] if signature else list(completions[0].keys())[-1]
    norm: Callable[[Any], Any] = normalize or (lambda x: x)
    values = [norm(c[field]) for c in completions]
    counted = [v for v in values if v is not None] or values
    counts: dict[Any, int] = {}
    for value in counted:
        counts[value] = counts.get(value, 0) + 1
    winner = max(counts, key=lambda v: counts[v])  # max keeps the first of equal counts: the earliest
    chosen = next(c for c, v in zip(completions, values, strict=True) if v == winner)
    return Prediction.from_completions([chosen], signature=signature)
