"""MIPROv2 proposes the same instructions and runs the same seeded search as DSPy."""

from __future__ import annotations

from typing import Any

import pytest
from opt_fixtures import exact, mipro_answers, qa_trainset

import dspy_ash as ash
from dspy_ash.testing import DummyLM

WRONG = {0, 2, 3, 7, 11, 12, 21, 25}
OPT = {
    "metric": exact,
    "auto": None,
    "num_candidates": 4,
    "max_bootstrapped_demos": 2,
    "max_labeled_demos": 2,
    "num_threads": 4,
}
COMPILE = {"num_trials": 5, "minibatch_size": 5, "minibatch_full_eval_steps": 2}


def _run(module: Any, lm: Any, compile_kwargs: dict[str, Any] | None = None, **overrides: Any) -> Any:
    module.configure(lm=lm)
    data = qa_trainset(module, 30)
    return module.MIPROv2(**{**OPT, **overrides}).compile(
        module.Predict("question -> answer"),
        trainset=data[:18],
        valset=data[18:],
        **(compile_kwargs or COMPILE),
    )


def _logs(program: Any) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for trial, log in program.trial_logs.items():
        entry = {k: v for k, v in log.items() if "program" not in k}
        for key in ("mb_program", "full_eval_program"):
            if key in log:
                state = log[key].dump_state()
                entry[key] = (state["signature"]["instructions"], state["demos"])
        out[trial] = entry
    return out


LONG = {"num_trials": 16, "minibatch_size": 4, "minibatch_full_eval_steps": 5}  # lookahead, then TPE proper


@pytest.mark.oracle
@pytest.mark.parametrize(
    ("overrides", "compile_kwargs"),
    [
        ({}, COMPILE),
        ({"max_bootstrapped_demos": 0, "max_labeled_demos": 0}, COMPILE),
        ({"num_candidates": 5}, LONG),
        ({"num_candidates": 5, "max_concurrent_trials": 8}, LONG),
    ],
)
def test_same_trials_instructions_and_result_as_dspy(
    overrides: dict[str, Any], compile_kwargs: dict[str, Any]
) -> None:
    import dspy
    from dspy.utils import DummyLM as RealDummyLM

    their_overrides = {k: v for k, v in overrides.items() if k != "max_concurrent_trials"}
    theirs = _run(dspy, RealDummyLM(mipro_answers(30, WRONG)), compile_kwargs, **their_overrides)
    ours = _run(ash, DummyLM(mipro_answers(30, WRONG)), compile_kwargs, **overrides)
    assert _logs(ours) == _logs(theirs)
    assert ours.dump_state() == theirs.dump_state()
    assert ours.score == theirs.score
    assert [(d["score"], d["full_eval"]) for d in ours.candidate_programs] == [
        (d["score"], d["full_eval"]) for d in theirs.candidate_programs
    ]


def test_parameter_validation() -> None:
    ash.configure(lm=DummyLM(mipro_answers(30, WRONG)))
    data = qa_trainset(ash, 30)
    with pytest.raises(ValueError, match="Invalid value for auto"):
        ash.MIPROv2(metric=exact, auto="huge")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_trials must also be provided"):
        ash.MIPROv2(metric=exact, auto=None, num_candidates=3).compile(
            ash.Predict("question -> answer"), trainset=data
        )
    with pytest.raises(ValueError, match="cannot be set"):
        ash.MIPROv2(metric=exact).compile(ash.Predict("question -> answer"), trainset=data, num_trials=3)
    with pytest.raises(ValueError, match="Minibatch size cannot exceed"):
        ash.MIPROv2(metric=exact, auto=None, num_candidates=2).compile(
            ash.Predict("question -> answer"), trainset=data, num_trials=2, minibatch_size=100
        )


def test_light_mode_runs_and_reports_progress() -> None:
    seen: list[Any] = []
    ash.configure(lm=DummyLM(mipro_answers(30, WRONG)), callbacks=[seen.append])
    data = qa_trainset(ash, 30)
    compiled = ash.MIPROv2(metric=exact, auto="light", num_threads=8).compile(
        ash.Predict("question -> answer"), trainset=data[:15], valset=data[15:]
    )
    assert compiled.score >= 0
    finished = [e.extra for e in seen if e.kind == "progress" and e.name == "trial_finished"]
    assert len(finished) >= 10 and all("best_score" in f and "lm_calls" in f for f in finished)


@pytest.mark.oracle
def test_every_prompt_dspy_sends_is_sent_byte_for_byte() -> None:
    """Proposer, dataset summary, bootstrap and evaluation prompts are DSPy's exactly; the only extra
    calls are speculative teacher runs past the point where bootstrapping stops."""
    import dspy
    from dspy.clients.base_lm import GLOBAL_HISTORY as THEIR_HISTORY
    from dspy.utils import DummyLM as RealDummyLM
    from opt_fixtures import prompts_sent

    from dspy_ash.lm._history import GLOBAL_HISTORY as OUR_HISTORY

    theirs = prompts_sent(lambda: _run(dspy, RealDummyLM(mipro_answers(30, WRONG))), THEIR_HISTORY)
    ours = prompts_sent(lambda: _run(ash, DummyLM(mipro_answers(30, WRONG))), OUR_HISTORY)
    assert not theirs - ours
    extra = ours - theirs
    assert sum(extra.values()) <= 8
    assert all('"role": "system"' in k and "[[ ## question ## ]]" in k for k in extra)


@pytest.mark.oracle
def test_program_source_matches_dspy() -> None:
    import dspy
    from dspy.propose.utils import get_dspy_source_code

    from dspy_ash.optimizers._prompt_text import program_source

    def two(m: Any) -> Any:
        class TwoStep(m.Module):
            def __init__(self) -> None:
                super().__init__()
                self.draft = m.Predict("question -> draft")
                self.check = m.Predict("question, draft -> answer")

            def forward(self, question: str) -> Any:
                return self.check(question=question, draft=self.draft(question=question).draft)

        return TwoStep()

    def norm(text: str) -> str:
        # The signature layer's repr orders json_schema_extra keys differently (not this module's concern).
        return text.replace("'IS_TYPE_UNDEFINED': True, ", "")

    for make in (lambda m: m.Predict("question -> answer"), two):
        assert norm(program_source(make(ash))) == norm(get_dspy_source_code(make(dspy)))


def test_missing_optuna_fails_before_any_lm_call(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    import dspy_ash as ash
    from dspy_ash.testing import DummyLM

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "optuna" else real_find_spec(name, *a)
    )
    lm = DummyLM([{"answer": "x"}] * 50)
    ash.configure(lm=lm)
    data = [ash.Example(question=f"q{i}", answer="x").with_inputs("question") for i in range(10)]
    with pytest.raises(ImportError, match=r"dspy-ash\[optimizers\]"):
        ash.MIPROv2(metric=lambda e, p, t=None: True, auto="light").compile(
            ash.Predict("question -> answer"), trainset=data
        )
    assert lm.history == []
