"""BootstrapFewShotWithRandomSearch: DSPy's candidates, scores and winner, with candidates built concurrently."""

from __future__ import annotations

from typing import Any

import pytest
from opt_fixtures import exact, qa_answers, qa_trainset

import dspy_ash as ash
from dspy_ash.testing import DummyLM

WRONG = {0, 2, 3, 7, 11, 12, 14}


def _run(module: Any, lm: Any, **kwargs: Any) -> Any:
    module.configure(lm=lm)
    data = qa_trainset(module, 20)
    optimizer = module.BootstrapFewShotWithRandomSearch(
        metric=exact,
        max_bootstrapped_demos=3,
        max_labeled_demos=4,
        num_candidate_programs=5,
        num_threads=4,
        **kwargs,
    )
    return optimizer.compile(module.Predict("question -> answer"), trainset=data[:12], valset=data[12:])


def _summary(program: Any) -> list[Any]:
    return [
        (c["seed"], c["score"], list(c["subscores"]), c["program"].dump_state()["demos"])
        for c in program.candidate_programs
    ]


@pytest.mark.oracle
@pytest.mark.parametrize("stop_at_score", [None, 75.0])
def test_same_candidates_and_winner_as_dspy(stop_at_score: float | None) -> None:
    import dspy
    from dspy.utils import DummyLM as RealDummyLM

    theirs = _run(dspy, RealDummyLM(qa_answers(20, WRONG)), stop_at_score=stop_at_score)
    ours = _run(ash, DummyLM(qa_answers(20, WRONG)), stop_at_score=stop_at_score)
    assert _summary(ours) == _summary(theirs)
    assert ours.dump_state() == theirs.dump_state()


def test_restrict_and_validation() -> None:
    ash.configure(lm=DummyLM(qa_answers(20, WRONG)))
    data = qa_trainset(ash, 20)
    optimizer = ash.BootstrapFewShotWithRandomSearch(metric=exact, num_candidate_programs=2)
    compiled = optimizer.compile(ash.Predict("question -> answer"), trainset=data, restrict=[-3, 1])
    assert sorted(c["seed"] for c in compiled.candidate_programs) == [-3, 1]
    with pytest.raises(ValueError, match="does not match any candidate seed"):
        optimizer.compile(ash.Predict("question -> answer"), trainset=data, restrict=[99])


def test_progress_events_report_trials_and_best() -> None:
    seen: list[Any] = []
    ash.configure(lm=DummyLM(qa_answers(20, WRONG)), callbacks=[seen.append])
    data = qa_trainset(ash, 20)
    ash.BootstrapFewShotWithRandomSearch(metric=exact, num_candidate_programs=1, max_labeled_demos=2).compile(
        ash.Predict("question -> answer"), trainset=data[:10], valset=data[10:]
    )
    names = [e.name for e in seen if e.kind == "progress"]
    assert names.count("trial_started") == 4 and names.count("trial_finished") == 4
    candidates = [e.extra for e in seen if e.kind == "progress" and e.name == "candidate"]
    assert [c["seed"] for c in candidates] == [-3, -2, -1, 0]
    assert all("best_score" in c and "lm_calls" in c and "cost" in c for c in candidates)
    assert any(e.kind == "compile" and e.phase == "end" for e in seen)


@pytest.mark.oracle
def test_sends_dspys_prompts_plus_only_speculative_teacher_runs() -> None:
    import dspy
    from dspy.clients.base_lm import GLOBAL_HISTORY as THEIR_HISTORY
    from dspy.utils import DummyLM as RealDummyLM
    from opt_fixtures import prompts_sent

    from dspy_ash.lm._history import GLOBAL_HISTORY as OUR_HISTORY

    theirs = prompts_sent(lambda: _run(dspy, RealDummyLM(qa_answers(20, WRONG))), THEIR_HISTORY)
    ours = prompts_sent(lambda: _run(ash, DummyLM(qa_answers(20, WRONG))), OUR_HISTORY)
    assert not theirs - ours
    assert sum((ours - theirs).values()) <= 8
