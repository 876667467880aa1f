"""A misspelled compile() argument raises TypeError, as it does in DSPy, instead of being ignored."""

from __future__ import annotations

import pytest

import dspy_ash as dspy
from dspy_ash.testing import DummyLM


def _trainset() -> list[dspy.Example]:
    return [dspy.Example(question="q", answer="a").with_inputs("question")]


@pytest.mark.parametrize(
    "optimizer",
    [dspy.LabeledFewShot(k=1), dspy.BootstrapFewShot(max_bootstrapped_demos=1)],
    ids=["LabeledFewShot", "BootstrapFewShot"],
)
def test_misspelled_argument_is_a_type_error(optimizer):
    with pytest.raises(TypeError, match="unexpected keyword argument 'trainst'"):
        optimizer.compile(dspy.Predict("question -> answer"), trainset=_trainset(), trainst=_trainset())


def test_dspy_arguments_this_optimizer_ignores_are_still_accepted():
    program = dspy.LabeledFewShot(k=1).compile(
        dspy.Predict("question -> answer"), trainset=_trainset(), valset=_trainset()
    )
    assert len(program.predictors()[0].demos) == 1


def test_bootstrap_still_compiles_with_its_own_arguments():
    with dspy.context(lm=DummyLM([{"answer": "a"}] * 4)):
        program = dspy.BootstrapFewShot(max_bootstrapped_demos=1).compile(
            dspy.Predict("question -> answer"), trainset=_trainset(), teacher=None
        )
    assert program.predictors()[0].demos
