from __future__ import annotations

import dspy_ash as dspy
from dspy_ash.testing import DummyLM


def test_list_mode_replies_in_order_then_says_no_more():
    lm = DummyLM([{"answer": "red"}, {"answer": "blue"}])
    with dspy.context(lm=lm):
        p = dspy.Predict("question -> answer")
        assert [p(question="q").answer for _ in range(3)] == ["red", "blue", "No more responses"]


def test_dict_mode_matches_a_substring_of_the_last_message():
    lm = DummyLM({"sky": {"answer": "blue"}, "grass": {"answer": "green"}})
    with dspy.context(lm=lm):
        p = dspy.Predict("question -> answer")
        assert p(question="What color is the grass?").answer == "green"
        assert p(question="What color is the sky?").answer == "blue"


def test_follow_examples_returns_the_matching_demo():
    lm = DummyLM([{"answer": "unused"}], follow_examples=True)
    with dspy.context(lm=lm):
        p = dspy.Predict("question -> answer")
        p.demos = [
            dspy.Example(question="What color is the sky?", answer="blue"),
            dspy.Example(question="What color is grass?", answer="green"),
        ]
        assert p(question="What color is grass?").answer == "green"


def test_history_entries_have_dspy_keys_and_n_choices():
    lm = DummyLM([{"answer": "a1"}])
    with dspy.context(lm=lm):
        out = dspy.Predict("question -> answer", n=3)(question="q")
    assert out.completions.answer == ["a1", "No more responses", "No more responses"]
    entry = lm.history[-1]
    assert {
        "prompt",
        "messages",
        "kwargs",
        "response",
        "outputs",
        "usage",
        "cost",
        "timestamp",
        "uuid",
        "model",
        "response_model",
        "model_type",
    } <= entry.keys()
    assert entry["kwargs"]["n"] == 3 and entry["kwargs"]["temperature"] == 0.7
    assert lm.get_convo(-1)[0] is entry["messages"]
