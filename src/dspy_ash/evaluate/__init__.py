"""Evaluation: `Evaluate` and DSPy's metrics."""

from dspy_ash.evaluate._auto_evaluation import CompleteAndGrounded, SemanticF1
from dspy_ash.evaluate._evaluate import Evaluate, EvaluationResult
from dspy_ash.evaluate._metrics import (
    EM,
    F1,
    HotPotF1,
    answer_exact_match,
    answer_f1,
    answer_passage_match,
    normalize_text,
)

__all__ = [
    "EM",
    "F1",
    "CompleteAndGrounded",
    "Evaluate",
    "EvaluationResult",
    "HotPotF1",
    "SemanticF1",
    "answer_exact_match",
    "answer_f1",
    "answer_passage_match",
    "normalize_text",
]
