"""Metrics behave exactly as DSPy's (checked against the real package on tricky strings)."""

from __future__ import annotations

import pytest

import dspy_ash as ash
from dspy_ash.evaluate import _metrics as ours

CASES = [
    ("The Eiffel Tower", ["Eiffel Tower", "Louvre"]),
    ("paris", ["Paris, France"]),
    ("Eiffel Tower is in Paris", ["Paris"]),
    ("yes", ["no"]),
    ("no", ["no answer", "No."]),
    ("Café  au lait!", ["cafe au lait"]),
    ("", [""]),
    ("an apple a day", ["the apple day"]),
    ("Zürich – 1848", ["zurich 1848", "Zürich"]),
]


@pytest.mark.oracle
@pytest.mark.parametrize(("prediction", "answers"), CASES)
def test_string_metrics_match_dspy(prediction: str, answers: list[str]) -> None:
    from dspy.evaluate import metrics as theirs

    assert ours.normalize_text(prediction) == theirs.normalize_text(prediction)
    assert ours.EM(prediction, answers) == theirs.EM(prediction, answers)
    assert ours.F1(prediction, answers) == theirs.F1(prediction, answers)
    assert ours.HotPotF1(prediction, answers) == theirs.HotPotF1(prediction, answers)


@pytest.mark.oracle
@pytest.mark.parametrize("frac", [1.0, 0.5])
@pytest.mark.parametrize(("prediction", "answers"), CASES)
def test_answer_exact_match_matches_dspy(prediction: str, answers: list[str], frac: float) -> None:
    import dspy
    from dspy.evaluate import metrics as theirs

    for answer in (answers, answers[0]):
        expected = theirs.answer_exact_match(
            dspy.Example(answer=answer), dspy.Prediction(answer=prediction), frac=frac
        )
        got = ours.answer_exact_match(
            ash.Example(answer=answer), ash.Prediction(answer=prediction), frac=frac
        )
        assert got == expected


@pytest.mark.oracle
@pytest.mark.parametrize(
    "passages",
    [
        ["The Eiffel Tower is in Paris.", "Other text"],
        ["Zürich was founded long ago", "nothing"],
        ["eiffel-tower!"],
        ["No match here."],
    ],
)
def test_answer_passage_match_matches_dspy(passages: list[str]) -> None:
    import dspy
    from dspy.evaluate import metrics as theirs

    for answer in ("Eiffel Tower", ["zurich", "Paris"], "tower"):
        expected = theirs.answer_passage_match(dspy.Example(answer=answer), dspy.Prediction(context=passages))
        got = ours.answer_passage_match(ash.Example(answer=answer), ash.Prediction(context=passages))
        assert got == expected


def test_helpers_require_a_list() -> None:
    with pytest.raises(ValueError, match="must be a list"):
        ours.EM("a", "a")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Invalid answer type"):
        ours.answer_exact_match(ash.Example(answer=3), ash.Prediction(answer="3"))


def test_lm_judged_metrics_use_dspy_signatures() -> None:
    from dspy_ash.testing import DummyLM

    lm = DummyLM([{"reasoning": "r", "recall": "0.5", "precision": "1.0"}] * 2)
    ash.configure(lm=lm)
    metric = ours.SemanticF1()
    example = ash.Example(question="q", response="gold")
    pred = ash.Prediction(response="sys")
    assert metric(example, pred).score == pytest.approx(2 * 0.5 / 1.5)
    assert metric(example, pred, trace=[]).score is True  # 0.667 >= 0.66
    system = lm.history[0]["messages"][0]["content"]
    assert "Compare a system's response to the ground truth to compute its recall and precision." in system
    assert "fraction (out of 1.0) of ground truth covered by the system response" in system


def test_complete_and_grounded() -> None:
    from dspy_ash.testing import DummyLM

    lm = DummyLM(
        {
            "[[ ## ground_truth ## ]]": {
                "reasoning": "r",
                "ground_truth_key_ideas": "k",
                "system_response_key_ideas": "k",
                "discussion": "d",
                "completeness": "1.0",
            },
            "[[ ## retrieved_context ## ]]": {
                "reasoning": "r",
                "system_response_claims": "c",
                "discussion": "d",
                "groundedness": "0.0",
            },
        }
    )
    ash.configure(lm=lm)
    example = ash.Example(question="q", response="gold")
    score = ours.CompleteAndGrounded()(example, ash.Prediction(response="sys", context="ctx")).score
    assert score == 0.0


def test_answer_f1_is_the_best_token_f1_over_the_answers():
    from dspy_ash import Example, Prediction
    from dspy_ash.evaluate import answer_f1

    example = Example(question="q", answer=["the Eiffel Tower", "Tour Eiffel"])
    assert answer_f1(example, Prediction(answer="Eiffel Tower")) == 1.0  # articles are normalized away
    assert 0.0 < answer_f1(example, Prediction(answer="the tower in Paris")) < 1.0
    assert answer_f1(example, Prediction(answer="Big Ben")) == 0.0
