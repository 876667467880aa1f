from __future__ import annotations

import asyncio
import importlib
import time
from typing import Any

import pytest

import dspy_ash as dspy
from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._types import Choice, LMRequest, LMResponse
from dspy_ash.testing.dummy import DummyLM


class SlowEchoLM(BaseLM):
    """Answers `answer: <question>` after `delay` seconds; tracks how many requests overlap."""

    def __init__(self, delay: float = 0.2) -> None:
        super().__init__("slow-echo")
        self.delay = delay
        self.in_flight = 0
        self.peak = 0

    async def request(self, req: LMRequest) -> LMResponse:
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        question = str(req.messages[-1]["content"]).split("]]\n", 1)[1].split("\n", 1)[0]
        if question == "boom":
            raise RuntimeError("provider exploded")
        return LMResponse(choices=[Choice(text=f"[[ ## answer ## ]]\n{question}!\n\n[[ ## completed ## ]]")])


def test_parallel_call_shapes_order_and_concurrency() -> None:
    lm = SlowEchoLM(0.2)
    dspy.configure(lm=lm)
    predict = dspy.Predict("question -> answer")

    def plain(question: str) -> str:
        return question.upper()

    pairs: list[tuple[Any, Any]] = [
        (predict, dspy.Example(question="a", answer="x").with_inputs("question")),
        (predict, {"question": "b"}),
        (plain, ("c",)),
        *[(predict, {"question": str(i)}) for i in range(7)],
    ]
    started = time.perf_counter()
    results = dspy.Parallel(num_threads=10)(pairs)
    assert time.perf_counter() - started < 1.0  # 9 LM calls of 0.2 s, concurrently
    assert [r if isinstance(r, str) else r.answer for r in results] == [
        "a!",
        "b!",
        "C",
        *[f"{i}!" for i in range(7)],
    ]
    assert lm.peak >= 5


def test_parallel_limit_is_respected() -> None:
    lm = SlowEchoLM(0.05)
    dspy.configure(lm=lm)
    predict = dspy.Predict("question -> answer")
    dspy.Parallel(num_threads=3)([(predict, {"question": str(i)}) for i in range(12)])
    assert lm.peak == 3


def test_parallel_failures_are_none_and_can_be_returned() -> None:
    dspy.configure(lm=SlowEchoLM(0.01))
    predict = dspy.Predict("question -> answer")
    pairs = [(predict, {"question": "ok"}), (predict, {"question": "boom"}), (predict, {"question": "fine"})]
    results, failed, errors = dspy.Parallel(return_failed_examples=True)(pairs)
    assert results[0].answer == "ok!" and results[1] is None and results[2].answer == "fine!"
    assert failed == [{"question": "boom"}]
    assert isinstance(errors[0], RuntimeError)


def test_parallel_max_errors_cancels() -> None:
    dspy.configure(lm=SlowEchoLM(0.01))
    predict = dspy.Predict("question -> answer")
    with pytest.raises(Exception, match="max_errors"):
        dspy.Parallel(max_errors=2, num_threads=1)([(predict, {"question": "boom"})] * 5)


def test_parallel_rejects_unknown_example_types() -> None:
    results, _, errors = dspy.Parallel(return_failed_examples=True)([(lambda x: x, 42)])
    assert results == [None] and "Invalid example type" in str(errors[0])


async def test_multi_hop_program_issues_independent_calls_concurrently() -> None:
    class MultiHop(dspy.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hop = dspy.Predict("question -> answer")
            self.combine = dspy.Predict("question -> answer")

        async def aforward(self, question: str) -> Any:
            first, second = await asyncio.gather(
                self.hop.acall(question="left"), self.hop.acall(question="right")
            )
            return await self.combine.acall(question=f"{first.answer}+{second.answer}")

    lm = SlowEchoLM(0.3)
    dspy.configure(lm=lm)
    started = time.perf_counter()
    out = await MultiHop().acall(question="q")
    elapsed = time.perf_counter() - started
    assert out.answer == "left!+right!!"
    assert lm.peak == 2
    assert elapsed < 0.85  # two rounds of 0.3 s; sequential would be 0.9 s


def test_multi_chain_comparison_formats_attempts_like_dspy() -> None:
    lm = DummyLM([{"rationale": "compare", "answer": "4"}])
    dspy.configure(lm=lm)
    mcc = dspy.MultiChainComparison("question -> answer", M=2)
    completions = [
        dspy.Prediction(reasoning="add two and two\nmore", answer="4"),
        dspy.Prediction(rationale="guess", answer="5\nx"),
    ]
    assert mcc(completions, question="2+2").answer == "4"
    user = lm.history[-1]["messages"][-1]["content"]
    assert (
        "[[ ## reasoning_attempt_1 ## ]]\n«I'm trying to add two and two I'm not sure but my prediction is 4»"
        in user
    )
    assert "«I'm trying to guess I'm not sure but my prediction is 5»" in user
    assert lm.history[-1]["kwargs"]["temperature"] == 0.7
    with pytest.raises(ValueError, match="doesn't match the expected number M"):
        mcc(completions[:1], question="q")


@pytest.mark.oracle
def test_multi_chain_comparison_signature_matches_dspy() -> None:
    real = importlib.import_module("dspy")  # a test dependency: absent must fail, not skip
    ours = dspy.MultiChainComparison("question -> answer", M=3).predict.signature
    theirs = real.MultiChainComparison("question -> answer", M=3).predict.signature
    assert list(ours.fields) == list(theirs.fields)
    assert ours.instructions == theirs.instructions
    for name in ours.fields:
        assert (
            ours.fields[name].json_schema_extra["prefix"] == theirs.fields[name].json_schema_extra["prefix"]
        )


def test_majority_picks_most_common_normalized_value_earliest_on_tie() -> None:
    completions = [{"answer": "Paris."}, {"answer": "London"}, {"answer": "the paris"}, {"answer": "London"}]
    assert dspy.majority(completions).answer == "Paris."
    assert dspy.majority([{"answer": "b"}, {"answer": "a"}]).answer == "b"
    pred = dspy.Prediction.from_completions([{"answer": "x"}, {"answer": "y"}, {"answer": "y"}])
    assert dspy.majority(pred).answer == "y"
    assert dspy.majority([{"a": "1", "b": "2"}, {"a": "1", "b": "3"}], field="a").a == "1"
