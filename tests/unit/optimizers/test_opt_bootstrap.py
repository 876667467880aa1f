"""LabeledFewShot and BootstrapFewShot select exactly DSPy's demos, while running the teacher concurrently."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from opt_fixtures import CountingLM, exact, qa_answers, qa_trainset

import dspy_ash as ash
from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._types import LMRequest, LMResponse
from dspy_ash.testing import DummyLM


class TwoStep(ash.Module):
    def __init__(self) -> None:
        super().__init__()
        self.draft = ash.Predict("question -> answer")
        self.check = ash.Predict("question -> answer")

    def forward(self, question: str) -> Any:
        self.draft(question=question)
        return self.check(question=question)


def _theirs(n: int, wrong: set[int], program: str = "predict", **kwargs: Any) -> list[Any]:
    import dspy
    from dspy.utils import DummyLM as RealDummyLM

    dspy.configure(lm=RealDummyLM(qa_answers(n, wrong)))
    if program == "predict":
        student: Any = dspy.Predict("question -> answer")
    else:

        class TheirTwoStep(dspy.Module):
            def __init__(self) -> None:
                super().__init__()
                self.draft = dspy.Predict("question -> answer")
                self.check = dspy.Predict("question -> answer")

            def forward(self, question: str) -> Any:
                self.draft(question=question)
                return self.check(question=question)

        student = TheirTwoStep()
    compiled = dspy.BootstrapFewShot(metric=exact, **kwargs).compile(student, trainset=qa_trainset(dspy, n))
    return [p.dump_state()["demos"] for p in compiled.predictors()]


def _ours(n: int, wrong: set[int], program: str = "predict", **kwargs: Any) -> list[Any]:
    ash.configure(lm=DummyLM(qa_answers(n, wrong)))
    student = ash.Predict("question -> answer") if program == "predict" else TwoStep()
    compiled = ash.BootstrapFewShot(metric=exact, **kwargs).compile(student, trainset=qa_trainset(ash, n))
    assert compiled._compiled
    return [p.dump_state()["demos"] for p in compiled.predictors()]


@pytest.mark.oracle
@pytest.mark.parametrize(
    ("wrong", "kwargs"),
    [
        (set(), {}),
        ({0, 2, 3, 7}, {"max_bootstrapped_demos": 4, "max_labeled_demos": 6}),
        ({1, 2, 3, 4, 5, 6, 9, 10}, {"max_bootstrapped_demos": 3, "max_labeled_demos": 3, "num_threads": 3}),
        (set(range(0, 24, 2)), {"max_bootstrapped_demos": 8, "max_labeled_demos": 10, "num_threads": 16}),
        (set(range(24)), {"max_bootstrapped_demos": 2, "max_labeled_demos": 5}),
        ({3}, {"max_bootstrapped_demos": 2, "max_labeled_demos": 0, "max_rounds": 2}),
    ],
)
def test_same_demos_as_dspy(wrong: set[int], kwargs: dict[str, Any]) -> None:
    their_kwargs = {k: v for k, v in kwargs.items() if k != "num_threads"}
    assert _ours(24, wrong, **kwargs) == _theirs(24, wrong, **their_kwargs)


@pytest.mark.oracle
def test_same_demos_as_dspy_with_two_predictors() -> None:
    wrong = {1, 5}
    assert _ours(12, wrong, "two", max_bootstrapped_demos=3, max_labeled_demos=4) == _theirs(
        12, wrong, "two", max_bootstrapped_demos=3, max_labeled_demos=4
    )


@pytest.mark.oracle
@pytest.mark.parametrize("sample", [True, False])
def test_labeled_fewshot_matches_dspy(sample: bool) -> None:
    import dspy

    theirs = dspy.LabeledFewShot(k=5).compile(
        dspy.Predict("question -> answer"), trainset=qa_trainset(dspy, 12), sample=sample
    )
    ours = ash.LabeledFewShot(k=5).compile(
        ash.Predict("question -> answer"), trainset=qa_trainset(ash, 12), sample=sample
    )
    assert ours.dump_state()["demos"] == theirs.dump_state()["demos"]
    assert ash.LabeledFewShot().compile(ash.Predict("q -> a"), trainset=[]).demos == []


class SlowLM(BaseLM):
    def __init__(self, inner: BaseLM) -> None:
        super().__init__("slow")
        self.inner = inner
        self.in_flight = 0
        self.peak = 0

    async def request(self, req: LMRequest) -> LMResponse:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.005)
            return await self.inner.request(req)
        finally:
            self.in_flight -= 1


def test_teacher_runs_concurrently_and_speculation_is_bounded() -> None:
    wrong = set(range(0, 40, 2))  # half the examples fail
    lm = SlowLM(DummyLM(qa_answers(40, wrong)))
    ash.configure(lm=lm)
    ash.BootstrapFewShot(metric=exact, max_bootstrapped_demos=10, max_labeled_demos=0, num_threads=8).compile(
        ash.Predict("question -> answer"), trainset=qa_trainset(ash, 40)
    )
    assert lm.peak > 1
    counting = CountingLM(DummyLM(qa_answers(40, set())))
    ash.configure(lm=counting)
    ash.BootstrapFewShot(metric=exact, max_bootstrapped_demos=4, max_labeled_demos=0, num_threads=16).compile(
        ash.Predict("question -> answer"), trainset=qa_trainset(ash, 40)
    )
    assert counting.calls == 4  # a teacher that always succeeds costs what the sequential loop costs


def test_errors_count_in_training_order_and_raise_at_max_errors() -> None:
    ash.configure(lm=DummyLM(qa_answers(10, set())))
    calls: list[str] = []

    def flaky(example: Any, pred: Any, trace: Any = None) -> bool:
        calls.append(example.question)
        if example.question.endswith(("<q001>?", "<q002>?", "<q003>?")):
            raise RuntimeError(f"bad {example.question}")
        return True

    with pytest.raises(RuntimeError, match="<q002>"):
        ash.BootstrapFewShot(metric=flaky, max_bootstrapped_demos=8, max_errors=2, num_threads=4).compile(
            ash.Predict("question -> answer"), trainset=qa_trainset(ash, 10)
        )
    compiled = ash.BootstrapFewShot(
        metric=flaky, max_bootstrapped_demos=3, max_labeled_demos=0, max_errors=5
    ).compile(ash.Predict("question -> answer"), trainset=qa_trainset(ash, 10))
    assert [d["question"] for d in compiled.dump_state()["demos"]] == [
        "What is <q000>?",
        "What is <q004>?",
        "What is <q005>?",
    ]


def test_student_is_not_mutated_and_teacher_settings_apply() -> None:
    student = ash.Predict("question -> answer")
    other = DummyLM(qa_answers(6, set()))
    ash.configure(lm=DummyLM(qa_answers(6, set(range(6)))))  # the default LM gets everything wrong
    compiled = ash.BootstrapFewShot(
        metric=exact, max_labeled_demos=0, teacher_settings={"lm": other}
    ).compile(student, trainset=qa_trainset(ash, 6))
    assert student.demos == []
    assert len(compiled.demos) == 4 and all(d["augmented"] for d in compiled.demos)


@pytest.mark.oracle
def test_default_speculation_runs_past_num_threads_and_keeps_dspys_demos() -> None:
    # DSPy's code as written (no num_threads): a teacher that fails 4 times in 5 must walk most of the
    # trainset; the default window is not capped at settings.num_threads (8), so that walk takes a
    # few rounds of LM latency instead of one round per 8 examples, and the demos stay DSPy's.
    n, wrong = 100, {i for i in range(100) if i % 5}
    kwargs: dict[str, Any] = {"max_bootstrapped_demos": 16, "max_labeled_demos": 16}
    lm = SlowLM(DummyLM(qa_answers(n, wrong)))
    ash.configure(lm=lm)
    compiled = ash.BootstrapFewShot(metric=exact, **kwargs).compile(
        ash.Predict("question -> answer"), trainset=qa_trainset(ash, n)
    )
    assert ash.settings.num_threads == 8
    assert 8 < lm.peak <= 64
    assert [compiled.dump_state()["demos"]] == _theirs(n, wrong, **kwargs)

    bounded = SlowLM(DummyLM(qa_answers(n, wrong)))
    ash.configure(lm=bounded)
    ash.BootstrapFewShot(metric=exact, num_threads=5, **kwargs).compile(
        ash.Predict("question -> answer"), trainset=qa_trainset(ash, n)
    )
    assert bounded.peak <= 5  # an explicit num_threads still bounds the teacher runs in flight
