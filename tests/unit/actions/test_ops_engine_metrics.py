"""The engine's metrics subscriber: executions, LM calls, tokens, cost and cache hits, counted from events."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

import dspy_ash
from dspy_ash import events
from dspy_ash.actions._engine_metrics import EngineMetrics
from dspy_ash.lm._base import BaseLM
from dspy_ash.lm._types import Choice, LMRequest, LMResponse, Usage

REPLY = "[[ ## answer ## ]]\nParis\n\n[[ ## completed ## ]]"


class CountingLM(BaseLM):
    """Replies with a fixed answer, 12 input and 8 output tokens and a cost; every other call a cache hit."""

    def __init__(self, fail: bool = False) -> None:
        super().__init__("openai/fake-model", cache=False)
        self.fail = fail
        self.calls = 0

    async def request(self, req: LMRequest) -> LMResponse:
        self.calls += 1
        if self.fail:
            raise RuntimeError("the fake provider is down")
        hit = self.calls % 2 == 0
        return LMResponse(
            choices=[Choice(text=REPLY)],
            usage=Usage(12, 8, 20),
            model="fake-model-2026-01-01",
            cost=None if hit else 0.5,
            cache_hit=hit,
            latency=0.004,
        )


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def test_executions_lm_calls_tokens_cost_and_cache_hits_are_counted(registry: CollectorRegistry) -> None:
    metrics = EngineMetrics(registry)
    qa = dspy_ash.Predict("question -> answer")
    with dspy_ash.context(lm=CountingLM(), callbacks=[metrics]):
        for _ in range(3):
            assert qa(question="capital of France?").answer == "Paris"

    model = "openai/fake-model"  # the configured name, not the provider's dated one
    assert sample(registry, "dspy_ash_executions_total", status="ok") == 3
    assert sample(registry, "dspy_ash_execution_duration_seconds_count") == 3
    assert sample(registry, "dspy_ash_lm_calls_total", model=model, status="ok") == 3
    assert sample(registry, "dspy_ash_lm_cache_hits_total", model=model) == 1
    # a cache hit spends no tokens (the LM reports no usage for it) and costs nothing
    assert sample(registry, "dspy_ash_lm_tokens_total", model=model, direction="input") == 24
    assert sample(registry, "dspy_ash_lm_tokens_total", model=model, direction="output") == 16
    assert sample(registry, "dspy_ash_lm_cost_usd_total", model=model) == pytest.approx(1.0)
    assert sample(registry, "dspy_ash_lm_cache_hit_ratio") == pytest.approx(1 / 3)
    assert sample(registry, "dspy_ash_lm_call_duration_seconds_count", model=model) == 3


def test_failures_count_as_errors(registry: CollectorRegistry) -> None:
    metrics = EngineMetrics(registry)
    qa = dspy_ash.Predict("question -> answer")
    with dspy_ash.context(lm=CountingLM(fail=True), callbacks=[metrics]), pytest.raises(RuntimeError):
        qa(question="?")
    assert sample(registry, "dspy_ash_executions_total", status="error") == 1
    assert sample(registry, "dspy_ash_executions_total", status="ok") == 0
    assert sample(registry, "dspy_ash_lm_calls_total", model="openai/fake-model", status="error") == 1


def test_an_execution_is_a_top_level_call_or_one_directly_under_evaluate(registry: CollectorRegistry) -> None:
    metrics = EngineMetrics(registry)

    class Pipeline(dspy_ash.Module):
        def __init__(self) -> None:
            super().__init__()
            self.first = dspy_ash.Predict("question -> answer")
            self.second = dspy_ash.Predict("question -> answer")

        def forward(self, question: str) -> Any:
            self.first(question=question)
            return self.second(question=question)

    with dspy_ash.context(lm=CountingLM(), callbacks=[metrics]):
        Pipeline()(question="?")  # one execution, not three (its inner Predicts are parts of it)
        with events.observe("evaluate", "Evaluate", None):
            Pipeline()(question="?")
            Pipeline()(question="?")
    assert sample(registry, "dspy_ash_executions_total", status="ok") == 3
    assert sample(registry, "dspy_ash_lm_calls_total", model="openai/fake-model", status="ok") == 6


def test_model_labels_are_bounded(registry: CollectorRegistry) -> None:
    metrics = EngineMetrics(registry)
    for i in range(150):
        end = events.Event("lm", "end", f"c{i}", None, None, f"openai/model-{i}", usage={}, duration=0.1)
        metrics.on_event(end)
    models = {
        s.labels["model"]
        for family in registry.collect()
        if family.name == "dspy_ash_lm_calls"
        for s in family.samples
    }
    assert len(models) == 101  # 100 names kept, the rest as one "other"
    assert sample(registry, "dspy_ash_lm_calls_total", model="other", status="ok") == 50


def test_two_registries_count_apart() -> None:
    first, second = CollectorRegistry(), CollectorRegistry()
    EngineMetrics(first)
    metrics = EngineMetrics(second)  # the same metric names on another registry: no collision
    with dspy_ash.context(lm=CountingLM(), callbacks=[metrics]):
        dspy_ash.Predict("question -> answer")(question="?")
    assert sample(first, "dspy_ash_executions_total", status="ok") == 0
    assert sample(second, "dspy_ash_executions_total", status="ok") == 1
