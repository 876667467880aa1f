"""SIMBA and InferRules take DSPy 3.4.1's decisions given the same replies and seed (same demos, rules,
candidate scores and trial logs, the same prompts), run concurrently, and resume from a checkpoint."""

from __future__ import annotations

import collections
import json
from pathlib import Path
from typing import Any

import pytest
from simba_task import (
    TEACHER_TEMPERATURE,
    Calls,
    HandlerLM,
    Killed,
    handler,
    metric,
    metric_with_feedback,
    pipeline,
    trainset,
)

import dspy_ash as ash
from dspy_ash.errors import DatasetError, DspyAshError, UnsupportedFeatureError
from dspy_ash.optimizers import MemoryCheckpointStore
from dspy_ash.testing import FakeOpenAIServer

SIMBA_CASES: list[dict[str, Any]] = [
    {"bsize": 6, "num_candidates": 3, "max_steps": 3, "max_demos": 2},
    {"bsize": 4, "num_candidates": 4, "max_steps": 4, "max_demos": 1, "temperature_for_sampling": 0.5},
    {"bsize": 6, "num_candidates": 2, "max_steps": 3, "max_demos": 0},  # rules only
    {"bsize": 12, "num_candidates": 2, "max_steps": 2, "max_demos": 3},  # the batch is the whole trainset
    {"bsize": 6, "num_candidates": 3, "max_steps": 3, "max_demos": 2, "feedback": True, "teacher": True},
    {"bsize": 6, "num_candidates": 3, "max_steps": 2, "max_demos": 0, "teacher": True},  # rules, from step 1
]


def _simba(
    m: Any, lm: Any, seed: int = 3, feedback: bool = False, teacher: bool = False, **options: Any
) -> Any:
    m.configure(lm=lm)
    if teacher:  # a teacher LM (another client for the same server) runs the first rollout
        options["teacher_settings"] = {"lm": lm.copy(temperature=TEACHER_TEMPERATURE)}
    scorer = metric_with_feedback(m) if feedback else metric
    optimizer = m.SIMBA(metric=scorer, num_threads=4, **options)
    return optimizer.compile(pipeline(m), trainset=trainset(m), seed=seed)


def _summary(program: Any) -> dict[str, Any]:
    return {
        "state": program.dump_state(),
        "candidates": [(c["score"], c["program"].dump_state()) for c in program.candidate_programs],
        "trial_logs": program.trial_logs,
    }


def _http_lm(m: Any, server: Any) -> Any:
    return m.LM("openai/stand-in", api_base=server.api_base, api_key="local", cache=False)


def _prompts(server: Any) -> collections.Counter[str]:
    return collections.Counter(json.dumps(r.body["messages"], sort_keys=True) for r in server.requests)


@pytest.mark.oracle
@pytest.mark.parametrize(("options", "seed"), [(case, seed) for case in SIMBA_CASES for seed in (0, 3)])
def test_simba_takes_dspys_decisions_and_sends_its_prompts(options: dict[str, Any], seed: int) -> None:
    import dspy

    with FakeOpenAIServer(handler=handler, latency=0.005) as server:
        theirs = _summary(_simba(dspy, _http_lm(dspy, server), seed, **options))
        their_prompts = _prompts(server)
        server.requests.clear()
        server.max_in_flight = 0
        ours = _summary(_simba(ash, _http_lm(ash, server), seed, **options))
        our_prompts = _prompts(server)
    assert ours == theirs
    assert our_prompts == their_prompts
    if options.get(
        "teacher"
    ):  # the teacher's trajectories differ from the rollouts': some rule was asked for
        assert any("[[ ## module_names ## ]]" in prompt for prompt in our_prompts)
    assert server.max_in_flight == 4  # trajectories and evaluations ran `num_threads` at a time


def test_simba_learns_the_task_with_demos_and_rules() -> None:
    """The stand-in multiplies only after a demo and subtracts only after advice: both strategies must
    have landed in the returned program for it to score 1.0 on the trainset."""
    best = _simba(ash, HandlerLM(), bsize=6, num_candidates=3, max_steps=3, max_demos=2)
    assert best.candidate_programs[0]["score"] == 1.0
    assert any(p.demos for p in best.predictors())
    assert all("When the question says" in p.signature.instructions for p in best.predictors())
    assert set(best.trial_logs) == {0, 1, 2}


def test_simba_refuses_a_trainset_smaller_than_a_batch() -> None:
    ash.configure(lm=HandlerLM())
    with pytest.raises(DatasetError, match="Trainset too small: 12 < 20") as info:
        ash.SIMBA(metric=metric, bsize=20).compile(pipeline(ash), trainset=trainset(ash))
    assert isinstance(info.value, AssertionError)  # what DSPy raises


def _checkpointed(calls: Calls, store: Any, threads: int) -> str:
    ash.configure(lm=HandlerLM(calls))
    program = ash.SIMBA(
        metric=metric,
        bsize=6,
        num_candidates=3,
        max_steps=3,
        max_demos=2,
        num_threads=threads,
        checkpoint=store,
    ).compile(pipeline(ash), trainset=trainset(ash), seed=1)
    return json.dumps(_summary(program), sort_keys=True)


@pytest.mark.parametrize("kill_fraction", [0.05, 0.3, 0.6, 0.95])
def test_simba_killed_and_resumed_repeats_no_finished_work(kill_fraction: float) -> None:
    full = Calls()
    expected = _checkpointed(full, None, 1)
    store = MemoryCheckpointStore()
    dying = Calls(kill_at=max(1, int(full.done * kill_fraction)))
    with pytest.raises(Killed):
        _checkpointed(dying, store, 1)
    fresh = Calls()
    assert _checkpointed(fresh, store, 1) == expected
    # Every finished run was kept; only the run killed halfway (its `draft` call done) repeats that call.
    assert full.done <= dying.done + fresh.done <= full.done + 1
    again = Calls()
    assert _checkpointed(again, store, 1) == expected
    assert again.done == 0


def test_simba_killed_while_concurrent_resumes_to_the_same_program(tmp_path: Path) -> None:
    full = Calls()
    expected = _checkpointed(full, None, 8)
    dying = Calls(kill_at=full.done // 2)
    with pytest.raises(Killed):
        _checkpointed(dying, tmp_path, 8)
    fresh = Calls()
    assert _checkpointed(fresh, tmp_path, 8) == expected
    assert fresh.done <= full.done - dying.done + 8  # at most the calls in flight at the kill repeat


def _infer_rules(m: Any, lm: Any, **options: Any) -> Any:
    m.configure(lm=lm)
    optimizer = m.InferRules(metric=metric, num_candidates=3, num_rules=4, num_threads=4, **options)
    return optimizer.compile(m.Predict("question -> answer"), trainset=trainset(m, 16))


@pytest.mark.oracle
@pytest.mark.parametrize("options", [{}, {"max_bootstrapped_demos": 1, "max_labeled_demos": 0}])
def test_infer_rules_matches_dspy(options: dict[str, Any]) -> None:
    import dspy

    with FakeOpenAIServer(handler=handler) as server:
        theirs = _infer_rules(dspy, _http_lm(dspy, server), **options).dump_state()
        their_prompts = _prompts(server)
        server.requests.clear()
        ours = _infer_rules(ash, _http_lm(ash, server), **options).dump_state()
        our_prompts = _prompts(server)
    assert ours == theirs
    assert "Please adhere to the following rules" in ours["signature"]["instructions"]
    assert not their_prompts - our_prompts
    extra = our_prompts - their_prompts  # speculative teacher runs past the point where bootstrapping stops
    assert sum(extra.values()) <= 4 and all("[[ ## question ## ]]" in k for k in extra)


def test_infer_rules_resumes_without_asking_again() -> None:
    store = MemoryCheckpointStore()
    full = Calls()
    expected = _infer_rules(ash, HandlerLM(full), checkpoint=store).dump_state()
    again = Calls()
    assert _infer_rules(ash, HandlerLM(again), checkpoint=store).dump_state() == expected
    assert again.done == 0


@pytest.mark.parametrize("name", ["BootstrapFinetune", "BetterTogether", "GRPO"])
def test_fine_tuning_optimizers_say_they_need_a_training_backend(name: str) -> None:
    from dspy_ash.optimizers import _finetune as finetune

    with pytest.raises(UnsupportedFeatureError, match="needs a training backend") as info:
        getattr(finetune, name)(metric=metric)
    assert isinstance(info.value, DspyAshError) and isinstance(info.value, NotImplementedError)
    assert "DSPy bridge" in str(info.value)
    assert name in str(info.value)


def test_fine_tuning_paths_of_dspy_import_and_then_explain() -> None:
    """`from dspy.teleprompt.grpo import GRPO` (and the others) imports; using it says why it cannot run."""
    import subprocess
    import sys

    code = (
        "import dspy_ash; dspy_ash.install_as_dspy()\n"
        "from dspy.teleprompt.grpo import GRPO\n"
        "from dspy.teleprompt.bootstrap_finetune import BootstrapFinetune\n"
        "from dspy.teleprompt import BetterTogether\n"
        "for cls in (GRPO, BootstrapFinetune, BetterTogether):\n"
        "    try:\n"
        "        cls()\n"
        "    except NotImplementedError as exc:\n"
        "        print(type(exc).__name__, 'DSPy bridge' in str(exc))\n"
        "import dspy.clients.lm_local\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env())
    assert run.stdout.splitlines() == ["TrainingBackendRequiredError True"] * 3
    assert "UnsupportedImportError" in run.stderr and "DSPy bridge" in run.stderr


def _env() -> dict[str, str]:
    import os

    src = str(Path(ash.__file__).parents[1])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
