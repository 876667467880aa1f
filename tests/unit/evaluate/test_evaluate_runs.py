"""Evaluate: DSPy's result, concurrency as in-flight calls, failures accounted for, exports."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path
from typing import Any

import pytest

import dspy_ash as ash
from dspy_ash.evaluate import Evaluate, EvaluationResult, answer_exact_match
from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._types import LMRequest, LMResponse
from dspy_ash.primitives._concurrency import TooManyErrors
from dspy_ash.testing import DummyLM


def devset(n: int) -> list[Any]:
    return [ash.Example(question=f"<q{i:03d}>", answer=f"a{i}").with_inputs("question") for i in range(n)]


def answers(n: int, wrong: set[int]) -> dict[str, dict[str, str]]:
    return {f"<q{i:03d}>": {"answer": "nope" if i in wrong else f"a{i}"} for i in range(n)}


class SlowLM(BaseLM):
    """Answers correctly after a short sleep and records the peak number of calls in flight."""

    def __init__(self, inner: BaseLM) -> None:
        super().__init__("slow")
        self.inner = inner
        self.in_flight = 0
        self.peak = 0

    async def request(self, req: LMRequest) -> LMResponse:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0.01)
            return await self.inner.request(req)
        finally:
            self.in_flight -= 1


def test_score_and_results_in_devset_order() -> None:
    ash.configure(lm=DummyLM(answers(10, {1, 4, 7})))
    result = Evaluate(devset=devset(10), metric=answer_exact_match, num_threads=4)(
        ash.Predict("question -> answer")
    )
    assert isinstance(result, EvaluationResult)
    assert result.score == 70.0
    assert [r[0].question for r in result.results] == [f"<q{i:03d}>" for i in range(10)]
    assert [r[2] for r in result.results] == [i not in {1, 4, 7} for i in range(10)]
    assert repr(result) == "EvaluationResult(score=70.0, results=<list of 10 results>)"
    assert result.lm_calls == 10


@pytest.mark.oracle
def test_same_result_as_dspy() -> None:
    import dspy
    from dspy.utils import DummyLM as RealDummyLM

    dspy.configure(lm=RealDummyLM(answers(7, {0, 5})))
    theirs = dspy.Evaluate(
        devset=[dspy.Example(**e.toDict()).with_inputs("question") for e in devset(7)],
        metric=dspy.evaluate.answer_exact_match,
        num_threads=2,
    )(dspy.Predict("question -> answer"))
    ash.configure(lm=DummyLM(answers(7, {0, 5})))
    ours = Evaluate(devset=devset(7), metric=answer_exact_match, num_threads=2)(
        ash.Predict("question -> answer")
    )
    assert ours.score == theirs.score
    assert [r[2] for r in ours.results] == [r[2] for r in theirs.results]
    assert [r[1].answer for r in ours.results] == [r[1].answer for r in theirs.results]


def test_num_threads_is_calls_in_flight() -> None:
    lm = SlowLM(DummyLM(answers(40, set())))
    ash.configure(lm=lm)
    result = Evaluate(devset=devset(40), metric=answer_exact_match, num_threads=16)(
        ash.Predict("question -> answer")
    )
    assert result.score == 100.0
    assert lm.peak == 16


async def test_async_call_inside_a_running_loop() -> None:
    ash.configure(lm=DummyLM(answers(5, {2})))
    result = await Evaluate(devset=devset(5), metric=answer_exact_match).acall(
        ash.Predict("question -> answer")
    )
    assert result.score == 80.0


def test_failures_are_recorded_and_use_failure_score() -> None:
    ash.configure(lm=DummyLM(answers(6, set())))

    def metric(example: Any, pred: Any, trace: Any = None) -> float:
        if example.question == "<q003>":
            raise RuntimeError("metric broke")
        return 1.0

    result = Evaluate(devset=devset(6), metric=metric, failure_score=0.25, max_errors=5)(
        ash.Predict("question -> answer")
    )
    assert result.score == round(100 * 5.25 / 6, 2)
    assert set(result.errors) == {3}
    assert isinstance(result.errors[3], RuntimeError)
    assert result.results[3][1] == ash.Prediction()
    assert result.results[3][2] == 0.25


def test_max_errors_stops_the_run() -> None:
    ash.configure(lm=DummyLM(answers(20, set())))

    def metric(example: Any, pred: Any, trace: Any = None) -> bool:
        raise ValueError("always")

    with pytest.raises(TooManyErrors):
        Evaluate(devset=devset(20), metric=metric, max_errors=3, num_threads=1)(
            ash.Predict("question -> answer")
        )


def test_empty_devset_and_return_outputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="at least one example"):
        Evaluate(devset=[], metric=answer_exact_match)(ash.Predict("question -> answer"))
    with pytest.raises(ValueError, match="return_outputs"):
        Evaluate(devset=devset(1), metric=answer_exact_match, return_outputs=True)


def test_metric_returning_prediction_and_async_metric() -> None:
    ash.configure(lm=DummyLM(answers(4, {0})))

    async def metric(example: Any, pred: Any, trace: Any = None) -> Any:
        await asyncio.sleep(0)
        return ash.Prediction(score=0.5 if example.answer == pred.answer else 0.0)

    result = Evaluate(devset=devset(4), metric=metric)(ash.Predict("question -> answer"))
    assert result.score == 37.5


def test_csv_and_json_export(tmp_path: Path) -> None:
    ash.configure(lm=DummyLM(answers(3, {1})))
    csv_path, json_path = tmp_path / "r.csv", tmp_path / "r.json"
    Evaluate(
        devset=devset(3),
        metric=answer_exact_match,
        save_as_csv=str(csv_path),
        save_as_json=str(json_path),
        display_table=2,
    )(ash.Predict("question -> answer"))
    rows = json.loads(json_path.read_text())
    assert rows[1] == {
        "question": "<q001>",
        "example_answer": "a1",
        "pred_answer": "nope",
        "answer_exact_match": False,
    }
    with csv_path.open() as f:
        table = list(csv.DictReader(f))
    assert [r["answer_exact_match"] for r in table] == ["True", "False", "True"]


def test_progress_events_and_usage() -> None:
    seen: list[Any] = []
    ash.configure(lm=DummyLM(answers(3, set())), callbacks=[seen.append])
    result = Evaluate(devset=devset(3), metric=answer_exact_match, display_progress=True)(
        ash.Predict("question -> answer")
    )
    progress = [e for e in seen if e.kind == "progress"]
    assert [e.extra["done"] for e in progress] == [1, 2, 3]
    ends = [e for e in seen if e.kind == "evaluate" and e.phase == "end"]
    assert ends and ends[0].outputs is result
    assert result.usage == {} or isinstance(result.usage, dict)


def test_progress_bar_degrades_without_rich(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from dspy_ash.evaluate import _progress as progress

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "rich" else real(name, *a)
    )
    assert isinstance(progress.make_progress(True, 3), progress.NullProgress)
    ash.configure(lm=DummyLM(answers(3, set())))
    assert (
        Evaluate(devset=devset(3), metric=answer_exact_match, display_progress=True)(
            ash.Predict("question -> answer")
        ).score
        == 100.0
    )


def test_unhashable_metric_objects_work() -> None:
    import dspy_ash as ash
    from dspy_ash.testing import DummyLM

    class Judge:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self, example, pred, trace=None):
            return pred.answer == example.answer

    ash.configure(lm=DummyLM([{"answer": "a"}, {"answer": "b"}]))
    devset = [ash.Example(question=f"q{i}", answer="a").with_inputs("question") for i in range(2)]
    result = ash.Evaluate(devset=devset, metric=Judge(), num_threads=1)(ash.Predict("question -> answer"))
    assert result.score == 50.0
