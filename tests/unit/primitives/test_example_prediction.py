from __future__ import annotations

import pytest

import dspy_ash as dspy


def test_example_access_inputs_labels_and_copies():
    ex = dspy.Example(question="q", answer="a", dspy_uuid="x").with_inputs("question")
    assert ex.question == "q" and ex["answer"] == "a"
    assert ex.inputs().toDict() == {"question": "q"}
    assert ex.labels().toDict() == {"answer": "a", "dspy_uuid": "x"}
    visible = ex.keys()  # keys() hides dspy_ fields unless asked
    assert len(ex) == 2 and "dspy_uuid" not in visible and "dspy_uuid" in ex.keys(include_dspy=True)
    copied = ex.copy(answer="b")
    assert copied.answer == "b" and ex.answer == "a" and copied._input_keys == {"question"}
    assert "answer" not in ex.without("answer")
    assert dspy.Example(ex) == ex and dspy.Example({"a": 1}) == dspy.Example(a=1)
    with pytest.raises(AttributeError):
        _ = ex.missing
    with pytest.raises(ValueError, match="Inputs have not been set"):
        dspy.Example(a=1).inputs()


def test_example_set_and_delete_and_hash():
    ex = dspy.Example(a=1)
    ex.b = 2
    ex["c"] = 3
    del ex["a"]
    assert ex.toDict() == {"b": 2, "c": 3}
    assert hash(ex) == hash(dspy.Example(b=2, c=3))
    assert repr(ex) == "Example({'b': 2, 'c': 3}) (input_keys=None)"


def test_prediction_from_completions_and_repr():
    pred = dspy.Prediction.from_completions([{"answer": "x"}, {"answer": "y"}])
    assert pred.answer == "x"
    completions = pred.completions
    assert completions is not None
    assert completions.answer == ["x", "y"]
    assert completions[1].answer == "y"
    assert len(completions) == 2
    assert repr(pred).endswith("(1 completions omitted)")
    with pytest.raises(IndexError):
        completions[2]


def test_prediction_numeric_protocol():
    a, b = dspy.Prediction(score=0.5), dspy.Prediction(score=1.5)
    assert float(a) == 0.5 and a + b == 2.0 and b / 2 == 0.75 and a < b and b >= 1
    with pytest.raises(ValueError):
        float(dspy.Prediction(answer="x"))


def test_completions_require_equal_lengths():
    with pytest.raises(ValueError):
        dspy.Completions({"a": [1, 2], "b": [1]})
