"""GEPA: the same candidates, scores, lineage and prompts as DSPy 3.4.1 given the same LM replies;
evaluations concurrent; a killed run resumes from its checkpoint without paying again for finished work."""

from __future__ import annotations

import collections
import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import pytest
from gepa_task import TaskLM, dataset, feedback_metric, handler, instructions, plain_metric, program
from opt_fixtures import CountingLM, Killed  # pyright: ignore[reportMissingImports]

import dspy_ash as ash
from dspy_ash.errors import ConfigurationError
from dspy_ash.testing import FakeOpenAIServer

CASES: dict[str, dict[str, Any]] = {
    "one predictor": {"kind": "predict", "gepa": {"max_metric_calls": 80}},
    "two predictors, merge": {"kind": "two", "gepa": {"max_metric_calls": 150}},
    "current best, minibatch 2, no skip": {
        "kind": "two",
        "gepa": {
            "max_metric_calls": 120,
            "candidate_selection_strategy": "current_best",
            "reflection_minibatch_size": 2,
            "skip_perfect_score": False,
            "use_merge": False,
        },
    },
    "all components, plain metric, seed 3": {
        "kind": "two",
        "plain": True,
        "gepa": {"max_metric_calls": 120, "component_selector": "all", "seed": 3},
    },
    "format failures as feedback": {
        "kind": "predict",
        "garble": True,
        "gepa": {"max_metric_calls": 80, "add_format_failure_as_feedback": True},
    },
    "format failures dropped, max_full_evals": {
        "kind": "predict",
        "garble": True,
        "gepa": {"max_full_evals": 6},
    },
}


def _compile(module: Any, api_base: str, case: dict[str, Any]) -> Any:
    lm = module.LM("openai/task", api_base=api_base, api_key="k", cache=False)
    reflection = module.LM("openai/reflect", api_base=api_base, api_key="k", cache=False)
    module.configure(lm=lm)
    data = dataset(module)
    metric = plain_metric if case.get("plain") else feedback_metric(module)
    optimizer = module.GEPA(metric=metric, reflection_lm=reflection, track_stats=True, **case["gepa"])
    return optimizer.compile(program(module, case["kind"]), trainset=data[:6], valset=data[6:])


def _summary(compiled: Any) -> dict[str, Any]:
    r = compiled.detailed_results
    return {
        "candidates": instructions(compiled),
        "scores": r.val_aggregate_scores,
        "subscores": r.val_subscores,
        "parents": r.parents,
        "discovery": r.discovery_eval_counts,
        "metric_calls": r.total_metric_calls,
        "full_evals": r.num_full_val_evals,
        "best": compiled.dump_state(),
    }


def _run_side(module: Any, case: dict[str, Any]) -> tuple[dict[str, Any], collections.Counter[str]]:
    with FakeOpenAIServer(handler=handler(case.get("garble", False))) as server:
        summary = _summary(_compile(module, server.api_base, case))
        prompts = collections.Counter(json.dumps(r.body["messages"], sort_keys=True) for r in server.requests)
    return summary, prompts


@pytest.mark.oracle
@pytest.mark.parametrize("name", list(CASES))
def test_same_candidates_and_prompts_as_dspy(name: str) -> None:
    import dspy

    theirs, their_prompts = _run_side(dspy, CASES[name])
    ours, our_prompts = _run_side(ash, CASES[name])
    assert len(theirs["candidates"]) > 1  # the search found something, so the comparison means something
    assert ours == theirs
    assert our_prompts == their_prompts


def _local_run(
    lm: Any, checkpoint: Any = None, kind: str = "two", reflection: Any = None, **kwargs: Any
) -> Any:
    ash.configure(lm=lm)
    data = dataset(ash)
    options: dict[str, Any] = {"max_metric_calls": 150, "num_threads": 8, **kwargs}
    return ash.GEPA(
        metric=feedback_metric(ash),
        reflection_lm=reflection or TaskLM("reflect"),
        track_stats=True,
        checkpoint=checkpoint,
        **options,
    ).compile(program(ash, kind), trainset=data[:6], valset=data[6:])


def test_batches_run_concurrently() -> None:
    with FakeOpenAIServer(handler=handler(), latency=0.05) as server:
        ash.configure(lm=ash.LM("openai/task", api_base=server.api_base, api_key="k", cache=False))
        data = dataset(ash, 30)
        start = time.perf_counter()
        ash.GEPA(
            metric=feedback_metric(ash),
            reflection_lm=ash.LM("openai/reflect", api_base=server.api_base, api_key="k", cache=False),
            max_metric_calls=40,
            num_threads=32,
        ).compile(program(ash, "predict"), trainset=data[:6], valset=data[6:])
        seconds = time.perf_counter() - start
    assert server.max_in_flight >= 24  # the 24-example valset in one round
    assert len(server.requests) >= 40
    assert seconds < 0.05 * len(server.requests) / 2  # one call after another would take all of it


def test_same_result_in_process_as_over_http() -> None:
    """The in-process stand-in used by the resume tests answers as the HTTP one does."""
    ours = _local_run(TaskLM())
    assert len(ours.detailed_results.candidates) > 2
    assert ours.detailed_results.val_aggregate_scores[-1] > ours.detailed_results.val_aggregate_scores[0]


@pytest.mark.parametrize("kill_at", [5, 17, 40, 75, 120])
def test_killed_run_resumes_without_repeating_finished_work(kill_at: int, tmp_path: Path) -> None:
    full = CountingLM(TaskLM())
    expected = _summary(_local_run(full))

    first = CountingLM(TaskLM(), kill_at=kill_at)
    with pytest.raises(Killed):
        _local_run(first, tmp_path)
    resumed = CountingLM(TaskLM())
    assert _summary(_local_run(resumed, tmp_path)) == expected
    # Finished calls are not paid again; a kill between a reflection minibatch and its proposal runs
    # that minibatch (3 examples, 2 calls each here) again, traced.
    assert full.calls <= first.calls + resumed.calls <= full.calls + 6

    again = CountingLM(TaskLM())
    assert _summary(_local_run(again, tmp_path)) == expected
    assert again.calls == 0  # a finished run answers entirely from its checkpoint


class _DyingReflection(TaskLM):
    """The reflection stand-in; dies on its `kill_at`-th call while `kill_at` is set (a class switch, so
    the killed and the resumed run have the same fingerprint)."""

    kill_at: int | None = None
    calls = 0

    async def request(self, req: Any) -> Any:
        type(self).calls += 1
        if type(self).calls == type(self).kill_at:
            raise Killed("killed during a proposal")
        return await super().request(req)


def test_reflection_killed_mid_proposal_reruns_only_that_minibatch(tmp_path: Path) -> None:
    options: dict[str, Any] = {
        "kind": "predict",
        "max_metric_calls": 80,
        "reflection": _DyingReflection("reflect"),
    }
    full = CountingLM(TaskLM())
    expected = _summary(_local_run(full, **options))
    first = CountingLM(TaskLM())
    _DyingReflection.calls, _DyingReflection.kill_at = 0, 3
    try:
        with pytest.raises(Killed):
            _local_run(first, tmp_path, **options)
    finally:
        _DyingReflection.kill_at = None
    resumed = CountingLM(TaskLM())
    assert _summary(_local_run(resumed, tmp_path, **options)) == expected
    # Only the reflection minibatch of the interrupted proposal (3 examples) is paid for twice.
    assert first.calls + resumed.calls == full.calls + 3


def test_log_dir_is_the_checkpoint(tmp_path: Path) -> None:
    first = CountingLM(TaskLM(), kill_at=30)
    with pytest.raises(Killed):
        ash.configure(lm=first)
        data = dataset(ash)
        ash.GEPA(
            metric=feedback_metric(ash),
            reflection_lm=TaskLM("reflect"),
            max_metric_calls=80,
            log_dir=str(tmp_path),
        ).compile(program(ash, "predict"), trainset=data[:6], valset=data[6:])
    assert list(tmp_path.iterdir())  # the checkpoint, as JSON
    assert not list(tmp_path.glob("*.bin")) and not list(tmp_path.glob("**/gepa_state*"))


def test_parameter_validation() -> None:
    metric = feedback_metric(ash)
    with pytest.raises(TypeError, match="five arguments"):
        ash.GEPA(metric=lambda gold, pred: 1.0, reflection_lm=TaskLM(), auto="light")  # pyright: ignore[reportArgumentType]
    with pytest.raises(ConfigurationError, match="Exactly one of"):
        ash.GEPA(metric=metric, reflection_lm=TaskLM(), auto="light", max_metric_calls=3)
    with pytest.raises(ConfigurationError, match="Exactly one of"):
        ash.GEPA(metric=metric, reflection_lm=TaskLM())
    with pytest.raises(ValueError, match="reflection language model"):
        ash.GEPA(metric=metric, auto="light")
    with pytest.raises(ValueError, match="max_reflection_cost"):
        ash.GEPA(
            metric=metric, reflection_lm=TaskLM(), auto="light", gepa_kwargs={"max_reflection_cost": 1.0}
        )
    with pytest.raises(ValueError, match="reflection_prompt_template"):
        ash.GEPA(
            metric=metric,
            reflection_lm=TaskLM(),
            auto="light",
            gepa_kwargs={"reflection_prompt_template": "x"},
        )
    with pytest.raises(NotImplementedError, match=r"dspy\.Flex"):
        ash.GEPA(metric=metric, reflection_lm=TaskLM(), auto="light", code_proposer=lambda **_: {})
    with pytest.raises(ValueError, match="track_stats must be True"):
        ash.GEPA(metric=metric, reflection_lm=TaskLM(), auto="light", track_best_outputs=True)
    ash.configure(lm=TaskLM())
    with pytest.raises(ValueError, match="Teacher is not supported"):
        ash.GEPA(metric=metric, reflection_lm=TaskLM(), auto="light").compile(
            ash.Predict("question -> answer"),
            trainset=dataset(ash),
            teacher=ash.Predict("question -> answer"),
        )


@pytest.mark.oracle
def test_auto_budget_is_dspys() -> None:
    import dspy

    for preds in (1, 2, 5):
        for n in (6, 12, 18):
            for valset in (0, 3, 40, 300):
                ours = ash.GEPA(metric=feedback_metric(ash), reflection_lm=TaskLM(), auto="light")
                theirs = dspy.GEPA(
                    metric=feedback_metric(dspy), reflection_lm=dspy.LM("openai/x"), auto="light"
                )
                assert ours.auto_budget(preds, n, valset) == theirs.auto_budget(preds, n, valset)


def test_missing_gepa_fails_before_any_lm_call(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "gepa" else real_find_spec(name, *a)
    )
    lm = CountingLM(TaskLM())
    ash.configure(lm=lm)
    with pytest.raises(ImportError, match=r"dspy-ash\[gepa\]"):
        ash.GEPA(metric=feedback_metric(ash), reflection_lm=TaskLM(), auto="light").compile(
            ash.Predict("question -> answer"), trainset=dataset(ash)
        )
    assert lm.attempts == 0


def test_progress_events_report_each_candidate() -> None:
    seen: list[Any] = []
    ash.configure(lm=TaskLM(), callbacks=[seen.append])
    data = dataset(ash)
    ash.GEPA(metric=feedback_metric(ash), reflection_lm=TaskLM("reflect"), max_metric_calls=80).compile(
        program(ash, "predict"), trainset=data[:6], valset=data[6:]
    )
    ash.configure(callbacks=[])
    found = [e.extra for e in seen if e.kind == "progress" and e.name == "candidate"]
    assert [f["candidate"] for f in found] == list(range(len(found))) and len(found) > 2
    assert all("best_score" in f and "lm_calls" in f for f in found)
