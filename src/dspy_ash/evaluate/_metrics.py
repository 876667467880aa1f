"""DSPy's answer metrics: normalisation, exact match, token F1, HotPotQA F1 and passage match.

Metrics take `(example, pred, trace=None)`; the helpers (`EM`, `F1`, `HotPotF1`) take a prediction
string and a list of reference answers. Behaviour (and edge cases) follow `dspy.evaluate.metrics`.
"""

from __future__ import annotations

import logging
import re
import string
import unicodedata
from collections import Counter
from typing import Any, cast

from dspy_ash.evaluate._auto_evaluation import CompleteAndGrounded, SemanticF1
from dspy_ash.evaluate._dpr import dpr_normalize, has_answer

logger = logging.getLogger("dspy_ash.evaluate")

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_YES_NO = ("yes", "no", "noanswer")


def normalize_text(s: str) -> str:
    """NFD, lowercase, drop punctuation, drop English articles, collapse whitespace."""
    s = unicodedata.normalize("NFD", s).lower()
    s = "".join(ch for ch in s if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", s).split())


def em_score(prediction: str, ground_truth: str) -> bool:
    return normalize_text(prediction) == normalize_text(ground_truth)


def _token_f1(prediction_tokens: list[str], truth_tokens: list[str]) -> float:
    if len(prediction_tokens) == len(truth_tokens) == 0:
        # DSPy (unlike SQuAD 2.0) scores this edge case 0 and says so.
        logger.info("F1 Metric: Rare edge case of len(prediction_tokens) == len(ground_truth_tokens) == 0.")
    common = Counter(prediction_tokens) & Counter(truth_tokens)
    same = sum(common.values())
    if same == 0:
        return 0
    precision = same / len(prediction_tokens)
    recall = same / len(truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def f1_score(prediction: str, ground_truth: str) -> float:
    return _token_f1(normalize_text(prediction).split(), normalize_text(ground_truth).split())


def hotpot_f1_score(prediction: str, ground_truth: str) -> float:
    pred, truth = normalize_text(prediction), normalize_text(ground_truth)
    if (pred in _YES_NO or truth in _YES_NO) and pred != truth:
        return 0
    return _token_f1(pred.split(), truth.split())


def precision_score(prediction: str, ground_truth: str) -> float:
    prediction_tokens = normalize_text(prediction).split()
    common = Counter(prediction_tokens) & Counter(normalize_text(ground_truth).split())
    same = sum(common.values())
    return 0 if same == 0 else same / len(prediction_tokens)


def _require_list(answers_list: Any) -> list[str]:
    if not isinstance(answers_list, list):
        raise ValueError(f"`answers_list` must be a list, got {type(answers_list)}")
    return answers_list  # pyright: ignore[reportUnknownVariableType]


def EM(prediction: str, answers_list: list[str]) -> bool:
    """True if any reference equals the prediction after `normalize_text`."""
    return max(em_score(prediction, ans) for ans in _require_list(answers_list))


def F1(prediction: str, answers_list: list[str]) -> float:
    """The best token-level F1 against the references."""
    return max(f1_score(prediction, ans) for ans in _require_list(answers_list))


def HotPotF1(prediction: str, answers_list: list[str]) -> float:
    """Token F1 where a yes/no/noanswer mismatch scores 0."""
    return max(hotpot_f1_score(prediction, ans) for ans in _require_list(answers_list))


def _answers(example: Any) -> list[str]:
    answer: Any = example.answer
    if isinstance(answer, str):
        return [answer]
    if isinstance(answer, list):
        return [str(a) for a in cast(list[Any], answer)]
    raise ValueError(f"Invalid answer type: {type(answer)}")


def answer_exact_match(example: Any, pred: Any, trace: Any = None, frac: float = 1.0) -> bool:
    """`pred.answer` matches `example.answer` (a string or a list): EM, or token F1 >= `frac` if frac < 1."""
    answers = _answers(example)
    if frac >= 1.0:
        return EM(pred.answer, answers)
    return F1(pred.answer, answers) >= frac


def answer_f1(example: Any, pred: Any, trace: Any = None) -> float:
    """Token F1 of `pred.answer` against the best of `example.answer` (a string or a list), 0 to 1."""
    return F1(pred.answer, _answers(example))


def answer_passage_match(example: Any, pred: Any, trace: Any = None) -> bool:
    """Some passage in `pred.context` contains some answer (DPR tokenisation)."""
    tokenized = [dpr_normalize(normalize_text(ans)) for ans in _answers(example)]
    return any(has_answer(tokenized, normalize_text(passage)) for passage in pred.context)


__all__ = [
    "EM",
    "F1",
    "CompleteAndGrounded",
    "HotPotF1",
    "SemanticF1",
    "answer_exact_match",
    "answer_f1",
    "answer_passage_match",
    "em_score",
    "f1_score",
    "hotpot_f1_score",
    "normalize_text",
    "precision_score",
]
