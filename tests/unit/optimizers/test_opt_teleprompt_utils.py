"""DSPy's helpers for writing optimizers (`dspy.teleprompt.utils`, `dspy.propose`,
`bootstrap_trace_data`) give DSPy's results."""

from __future__ import annotations

import random
from typing import Any

import pytest
from opt_fixtures import exact, qa_answers, qa_trainset

import dspy_ash as ash
from dspy_ash.optimizers import _teleprompt_utils as teleprompt_utils
from dspy_ash.testing import DummyLM

WRONG = {1, 4, 5, 9}


def _demo_sets(m: Any, module: Any, lm: Any, **options: Any) -> list[list[list[dict[str, Any]]]]:
    m.configure(lm=lm)
    sets = module.create_n_fewshot_demo_sets(
        student=m.Predict("question -> answer"),
        num_candidate_sets=6,
        trainset=qa_trainset(m, 12),
        max_labeled_demos=2,
        max_bootstrapped_demos=3,
        metric=exact,
        teacher_settings={},
        **options,
    )
    return [[[dict(d.items()) for d in demos] for demos in per_predictor] for per_predictor in sets.values()]


@pytest.mark.oracle
@pytest.mark.parametrize(
    "options", [{}, {"seed": 5, "include_non_bootstrapped": False}, {"metric_threshold": 1}]
)
def test_candidate_demo_sets_are_dspys(options: dict[str, Any]) -> None:
    import dspy
    import dspy.teleprompt.utils as theirs
    from dspy.utils import DummyLM as RealDummyLM

    expected = _demo_sets(dspy, theirs, RealDummyLM(qa_answers(12, WRONG)), **options)
    assert _demo_sets(ash, teleprompt_utils, DummyLM(qa_answers(12, WRONG)), **options) == expected


def test_minibatch_and_candidate_evaluation() -> None:
    data = list(range(10))
    assert teleprompt_utils.create_minibatch(data, 4, random.Random(1)) == random.Random(1).sample(data, 4)
    assert teleprompt_utils.create_minibatch(data, 40, random.Random(1)) == random.Random(1).sample(data, 10)

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    assert teleprompt_utils.eval_candidate_program(3, data, None, failing).score == 0.0
    seen: list[Any] = []
    teleprompt_utils.eval_candidate_program(20, data, None, lambda p, **kw: seen.append(kw))
    assert seen == [{"devset": data, "callback_metadata": {"metric_key": "eval_full"}}]


@pytest.mark.oracle
@pytest.mark.parametrize("set_tip_randomly", [True, False])
def test_grounded_proposer_sync_api_proposes_what_dspy_proposes(set_tip_randomly: bool) -> None:
    import collections
    import json

    import dspy
    from dspy.clients.base_lm import GLOBAL_HISTORY as THEIR_HISTORY
    from dspy.propose.grounded_proposer import GroundedProposer as TheirProposer
    from dspy.utils import DummyLM as RealDummyLM
    from opt_fixtures import mipro_answers

    from dspy_ash.lm._history import GLOBAL_HISTORY as OUR_HISTORY
    from dspy_ash.optimizers._proposer import GroundedProposer

    def propose(m: Any, proposer_class: Any, lm: Any, history: list[Any]) -> tuple[Any, Any, Any]:
        history.clear()
        m.configure(lm=lm)
        program = m.Predict("question -> answer")
        data = qa_trainset(m, 6)
        demos = [[[m.Example(augmented=True, question="What is <q001>?", answer="a1")], [data[2]]]]
        proposer = proposer_class(
            prompt_model=lm,
            program=program,
            trainset=data,
            rng=random.Random(7),
            set_tip_randomly=set_tip_randomly,
        )
        many = proposer.propose_instructions_for_program(
            trainset=data, program=program, demo_candidates=demos, trial_logs={}, N=2
        )
        one = proposer.propose_instruction_for_predictor(program, None, 0, demos, 1, {}, tip="Be brief.")
        sent = collections.Counter(json.dumps(h["messages"], sort_keys=True) for h in history)
        return many, one, sent

    theirs = propose(dspy, TheirProposer, RealDummyLM(mipro_answers(6, WRONG)), THEIR_HISTORY)
    ours = propose(ash, GroundedProposer, DummyLM(mipro_answers(6, WRONG)), OUR_HISTORY)
    assert ours == theirs


def _traces(m: Any, module: Any, lm: Any, **options: Any) -> list[Any]:
    m.configure(lm=lm)
    program = m.Predict("question -> answer")
    data = qa_trainset(m, 6)
    out: list[Any] = []
    for entry in module.bootstrap_trace_data(program, data, metric=exact, num_threads=2, **options):
        prediction = entry["prediction"]
        shown = (
            ("failed", prediction.completion_text, prediction.format_reward)
            if type(prediction).__name__ == "FailedPrediction"
            else dict(prediction.items())
        )
        steps = [(p is program, dict(i), type(o).__name__) for p, i, o in entry["trace"]]
        out.append((entry["example_ind"], shown, entry.get("score"), steps))
    return out


@pytest.mark.oracle
@pytest.mark.parametrize("options", [{}, {"format_failure_score": -2, "failure_score": 0.5}])
def test_bootstrap_trace_data_is_dspys(options: dict[str, Any]) -> None:
    """Five parsed runs and one reply with no field at all (a `FailedPrediction` ending its trace)."""
    import dspy
    import dspy.teleprompt.bootstrap_trace as theirs
    from dspy.utils import DummyLM as RealDummyLM

    from dspy_ash.optimizers import _bootstrap_trace as bootstrap_trace

    replies: dict[str, Any] = {**qa_answers(6, WRONG), "<q003>": {}}
    expected = _traces(dspy, theirs, RealDummyLM(replies), **options)
    assert _traces(ash, bootstrap_trace, DummyLM(replies), **options) == expected
    assert [isinstance(e[1], tuple) for e in expected].count(True) == 1


def test_bootstrap_trace_data_captures_crashes_but_not_lm_errors() -> None:
    from dspy_ash.errors import LMRateLimitError
    from dspy_ash.optimizers._bootstrap_trace import FailedPrediction, bootstrap_trace_data

    class Bug(ash.Module):
        def forward(self, **kwargs: Any) -> Any:
            raise RuntimeError("a real code failure")

    class Flaky(ash.Module):
        def forward(self, **kwargs: Any) -> Any:
            raise LMRateLimitError("429 from the provider")

    example = ash.Example(q="x").with_inputs("q")
    data = bootstrap_trace_data(Bug(), dataset=[example], num_threads=1, capture_crashes=True)
    assert isinstance(data[0]["prediction"], FailedPrediction)
    assert data[0]["prediction"].completion_text == "RuntimeError: a real code failure"
    assert bootstrap_trace_data(Flaky(), [example], capture_crashes=True, raise_on_error=False) == []
    with pytest.raises(ValueError):
        bootstrap_trace_data(Flaky(), [example], capture_crashes=True)
