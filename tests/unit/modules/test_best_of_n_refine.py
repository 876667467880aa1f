from __future__ import annotations

import importlib
from typing import Any

import pytest

import dspy_ash as dspy
from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._types import Choice, LMRequest, LMResponse
from dspy_ash.testing.dummy import DummyLM


class RecordingLM(BaseLM):
    """Replies from a list; records every request (copies share the log, as rollouts are copies)."""

    def __init__(self, replies: list[str], log: list[LMRequest] | None = None) -> None:
        super().__init__("recording")
        self.replies = replies
        self.log: list[LMRequest] = [] if log is None else log

    async def request(self, req: LMRequest) -> LMResponse:
        self.log.append(req)
        return LMResponse(choices=[Choice(text=self.replies.pop(0))])


def _answer(text: str) -> str:
    return f"[[ ## answer ## ]]\n{text}\n\n[[ ## completed ## ]]"


def one_word(args: dict[str, Any], pred: Any) -> float:
    return 1.0 if len(pred.answer.split()) == 1 else 0.0


def test_best_of_n_stops_at_threshold_with_distinct_rollouts() -> None:
    lm = RecordingLM([_answer("two words"), _answer("Brussels"), _answer("never used")])
    dspy.configure(lm=lm)
    best = dspy.BestOfN(dspy.Predict("question -> answer"), N=3, reward_fn=one_word, threshold=1.0)
    assert best(question="capital of Belgium?").answer == "Brussels"
    assert [r.rollout_id for r in lm.log] == [0, 1]
    assert all(r.params["temperature"] == 1.0 for r in lm.log)


def test_best_of_n_keeps_the_best_when_none_reaches_threshold() -> None:
    def length(args: dict[str, Any], pred: Any) -> float:
        return float(len(pred.answer))

    dspy.configure(lm=DummyLM([{"answer": "ab"}, {"answer": "abcd"}, {"answer": "a"}]))
    best = dspy.BestOfN(dspy.Predict("question -> answer"), N=3, reward_fn=length, threshold=100)
    assert best(question="q").answer == "abcd"


def test_best_of_n_failures_count_against_fail_count() -> None:
    def boom(args: dict[str, Any], pred: Any) -> float:
        raise RuntimeError("reward failed")

    dspy.configure(lm=DummyLM([{"answer": "a"}] * 3))
    # DSPy's rule: with the default fail_count (N), the last of N failing attempts re-raises
    with pytest.raises(RuntimeError, match="reward failed"):
        dspy.BestOfN(dspy.Predict("question -> answer"), N=3, reward_fn=boom, threshold=1)(question="q")
    calls: list[int] = []

    def fail_twice(args: dict[str, Any], pred: Any) -> float:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("reward failed")
        return 1.0

    dspy.configure(lm=DummyLM([{"answer": "a"}] * 3))
    best = dspy.BestOfN(dspy.Predict("question -> answer"), N=3, reward_fn=fail_twice, threshold=1)
    assert best(question="q").answer == "a" and len(calls) == 3
    dspy.configure(lm=DummyLM([{"answer": "a"}] * 3))
    with pytest.raises(RuntimeError, match="reward failed"):
        dspy.BestOfN(dspy.Predict("question -> answer"), N=3, reward_fn=boom, threshold=1, fail_count=1)(
            question="q"
        )


def test_best_of_n_appends_the_winning_trace() -> None:
    dspy.configure(lm=DummyLM([{"answer": "x y"}, {"answer": "x"}]))
    trace: list[Any] = []
    with dspy.context(trace=trace):
        dspy.BestOfN(dspy.Predict("question -> answer"), N=2, reward_fn=one_word, threshold=1.0)(question="q")
    assert len(trace) == 1 and trace[0][2].answer == "x"


def test_refine_feeds_advice_as_hint_to_the_next_attempt() -> None:
    log: list[LMRequest] = []
    feedback = (
        "[[ ## discussion ## ]]\ntoo long\n\n[[ ## advice ## ]]\n"
        '{"self": "Answer with one word."}\n\n[[ ## completed ## ]]'
    )
    lm = RecordingLM([_answer("The city of Brussels"), feedback, _answer("Brussels")], log)
    dspy.configure(lm=lm)
    refine = dspy.Refine(dspy.Predict("question -> answer"), N=3, reward_fn=one_word, threshold=1.0)
    assert refine(question="capital of Belgium?").answer == "Brussels"
    assert len(log) == 3
    advice_request = log[1].messages
    assert "In the discussion, assign blame to each module" in advice_request[0]["content"]
    assert "def one_word" in advice_request[-1]["content"]  # the reward code is shown to the model
    assert "Module self" in advice_request[-1]["content"]
    hinted = log[2].messages
    assert "`hint_` (str): A hint to the module from an earlier run" in hinted[0]["content"]
    assert "[[ ## hint_ ## ]]\nAnswer with one word." in hinted[-1]["content"]
    assert "hint_" not in log[0].messages[0]["content"]


def test_refine_returns_best_after_n_without_advice_on_last() -> None:
    def length(args: dict[str, Any], pred: Any) -> float:
        return -float(len(pred.answer))

    feedback = '[[ ## discussion ## ]]\nd\n\n[[ ## advice ## ]]\n{"self": "shorter"}\n\n[[ ## completed ## ]]'
    lm = RecordingLM([_answer("aaaa"), feedback, _answer("aa")])
    dspy.configure(lm=lm)
    out = dspy.Refine(dspy.Predict("question -> answer"), N=2, reward_fn=length, threshold=0)(question="q")
    assert out.answer == "aa"
    assert lm.replies == []  # no feedback call after the final attempt


@pytest.mark.oracle
def test_refine_prompts_match_real_dspy_except_program_source() -> None:
    import re

    real = importlib.import_module("dspy")  # a test dependency: absent must fail, not skip
    from dspy.clients.base_lm import GLOBAL_HISTORY as REAL_HISTORY
    from dspy.utils.dummies import DummyLM as RealDummyLM

    from dspy_ash.lm._history import GLOBAL_HISTORY

    def program_source_masked(text: str) -> str:
        # `inspect.getsource` of each package's own ChainOfThought class differs by design
        return re.sub(
            r"(\[\[ ## program_code ## \]\]\n).*?(\n\n\[\[ ## modules_defn)", r"\1X\2", text, flags=re.S
        )

    replies = [
        {"reasoning": "r", "answer": "The city of Brussels"},
        {"discussion": "d", "advice": {"predict": "one word"}},
        {"reasoning": "r", "answer": "Brussels"},
    ]
    transcripts = []
    for mod, dummy, history in ((real, RealDummyLM, REAL_HISTORY), (dspy, DummyLM, GLOBAL_HISTORY)):
        with mod.context(lm=dummy([dict(r) for r in replies])):
            out = mod.Refine(
                mod.ChainOfThought("question -> answer"), N=3, reward_fn=one_word, threshold=1.0
            )(question="capital?")
        assert out.answer == "Brussels"
        transcripts.append(
            [[program_source_masked(m["content"]) for m in h["messages"]] for h in history[-3:]]
        )
    assert transcripts[0] == transcripts[1]
