"""COPRO, KNNFewShot, BootstrapFewShotWithOptuna and Ensemble."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from opt_fixtures import exact, qa_answers, qa_trainset

import dspy_ash as ash
from dspy_ash.testing import DummyLM

WRONG = {1, 4, 6}


def copro_answers() -> dict[str, dict[str, str]]:
    return {
        "[[ ## attempted_instructions ## ]]": {
            "proposed_instruction": "Answer better.",
            "proposed_prefix_for_output_field": "Answer:",
        },
        "[[ ## basic_instruction ## ]]": {
            "proposed_instruction": '"Answer the trivia question."',
            "proposed_prefix_for_output_field": "Final Answer:",
        },
        **qa_answers(12, WRONG),
    }


def _copro(module: Any, lm: Any) -> Any:
    module.configure(lm=lm)
    optimizer = module.COPRO(metric=exact, breadth=3, depth=2, track_stats=True)
    return optimizer.compile(
        module.Predict("question -> answer"), trainset=qa_trainset(module, 12), eval_kwargs={"num_threads": 4}
    )


@pytest.mark.oracle
def test_copro_matches_dspy() -> None:
    import dspy
    from dspy.utils import DummyLM as RealDummyLM

    theirs = _copro(dspy, RealDummyLM(copro_answers()))
    ours = _copro(ash, DummyLM(copro_answers()))
    assert ours.dump_state()["signature"] == theirs.dump_state()["signature"]
    assert [(c["instruction"], c["prefix"], c["score"], c["depth"]) for c in ours.candidate_programs] == [
        (c["instruction"], c["prefix"], c["score"], c["depth"]) for c in theirs.candidate_programs
    ]
    assert ours.total_calls == theirs.total_calls
    assert ours.results_best == {0: theirs.results_best[next(iter(theirs.results_best))]}


def test_copro_breadth_must_exceed_one() -> None:
    with pytest.raises(ValueError, match="Breadth must be greater than 1"):
        ash.COPRO(metric=exact, breadth=1)


def test_knn_fewshot_bootstraps_from_the_nearest_examples() -> None:
    np = importlib.import_module("numpy")  # a test dependency: absent must fail, not skip
    trainset = qa_trainset(ash, 12)

    def vectorize(texts: list[str]) -> Any:
        # one-hot on the question number: the nearest example to <q005> is <q005> itself
        out = np.zeros((len(texts), 20), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row, int(text.split("<q")[1][:3])] = 1.0
        return out

    lm = DummyLM(qa_answers(12, set()))
    ash.configure(lm=lm)
    program = ash.KNNFewShot(
        k=2, trainset=trainset, vectorizer=vectorize, metric=exact, max_labeled_demos=0
    ).compile(ash.Predict("question -> answer"))
    result = program(question="What is <q005>?")
    assert result.answer == "a5"
    demos_prompt = lm.history[-1]["messages"]
    assert any("<q005>" in str(m["content"]) for m in demos_prompt[1:-1])


def test_knn_fewshot_checkpoints_each_calls_bootstrap_under_its_own_key(tmp_path: Any) -> None:
    np = pytest.importorskip("numpy")
    from opt_fixtures import CountingLM

    trainset = qa_trainset(ash, 12)

    def vectorize(texts: list[str]) -> Any:
        out = np.zeros((len(texts), 20), dtype=np.float32)
        for row, text in enumerate(texts):
            out[row, int(text.split("<q")[1][:3])] = 1.0
        return out

    def answers(lm: Any) -> list[str]:
        ash.configure(lm=lm)
        program = ash.KNNFewShot(
            k=2,
            trainset=trainset,
            vectorizer=vectorize,
            metric=exact,
            checkpoint=tmp_path,
            checkpoint_key="knn",  # one key given, two neighbour sets: each call gets its own checkpoint
        ).compile(ash.Predict("question -> answer"))
        return [program(question=f"What is <q{i:03d}>?").answer for i in (3, 7)]

    first = CountingLM(DummyLM(qa_answers(12, set())))
    assert answers(first) == ["a3", "a7"]
    again = CountingLM(DummyLM(qa_answers(12, set())))
    assert answers(again) == ["a3", "a7"]
    assert again.calls == 2 < first.calls  # the bootstraps came from the checkpoints, only the answers ran


def test_bootstrap_with_optuna_is_seeded_and_picks_one_demo_per_predictor() -> None:
    importlib.import_module("optuna")  # a test dependency: absent must fail, not skip
    ash.configure(lm=DummyLM(qa_answers(16, WRONG)))
    data = qa_trainset(ash, 16)

    def run() -> Any:
        return ash.BootstrapFewShotWithOptuna(
            metric=exact, num_candidate_programs=4, max_labeled_demos=2, seed=3
        ).compile(ash.Predict("question -> answer"), max_demos=3, trainset=data[:10], valset=data[10:])

    first, second = run(), run()
    assert len(first.demos) == 1
    assert first.dump_state() == second.dump_state()


def test_ensemble_reduces_outputs_of_all_programs() -> None:
    ash.configure(lm=DummyLM(qa_answers(3, set())))
    programs = [ash.Predict("question -> answer") for _ in range(3)]
    ensembled = ash.Ensemble(reduce_fn=lambda outs: [o.answer for o in outs]).compile(programs)
    assert ensembled(question="What is <q002>?") == ["a2", "a2", "a2"]
    assert sorted(ensembled.dump_state()) == ["programs[0]", "programs[1]", "programs[2]"]
    sampled = ash.Ensemble(size=2).compile(programs)
    assert len(sampled(question="What is <q001>?")) == 2


def test_deterministic_ensemble_picks_the_same_members_for_the_same_inputs() -> None:
    class Named(ash.Module):
        def __init__(self, name: str) -> None:
            self.name = name

        async def aforward(self, question: str) -> str:
            return self.name

    programs = [Named(f"p{i}") for i in range(8)]
    ensembled = ash.Ensemble(size=3, deterministic=True).compile(programs)
    picks = {q: ensembled(question=q) for q in ("a", "b", "c", "d")}
    assert all(ensembled(question=q) == picks[q] for q in picks)  # stable per input
    assert len({tuple(p) for p in picks.values()}) > 1  # and not one fixed subset for every input


@pytest.mark.oracle
def test_copro_sends_dspys_prompts() -> None:
    import dspy
    from dspy.clients.base_lm import GLOBAL_HISTORY as THEIR_HISTORY
    from dspy.utils import DummyLM as RealDummyLM
    from opt_fixtures import prompts_sent

    from dspy_ash.lm._history import GLOBAL_HISTORY as OUR_HISTORY

    theirs = prompts_sent(lambda: _copro(dspy, RealDummyLM(copro_answers())), THEIR_HISTORY)
    ours = prompts_sent(lambda: _copro(ash, DummyLM(copro_answers())), OUR_HISTORY)
    assert ours == theirs
