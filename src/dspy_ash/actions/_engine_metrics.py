"""What the engine did, as Prometheus metrics: an event subscriber counting executions and LM calls.

    metrics = EngineMetrics(registry)          # one per process (per app), on the app's own registry
    add_process_callback(metrics)              # at start-up; remove_process_callback at shutdown

An execution is a top-level module call (or one directly under Evaluate or an optimizer, as the trace
recorder counts them). On the hot path it does a set look-up and a counter increment per event.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from dspy_ash.events import Event

_CONTAINERS = frozenset({"evaluate", "compile"})
_MAX_MODELS = 100  # distinct model labels kept; the rest count as "other", so labels stay bounded
# LM calls take from milliseconds (cache hits) to minutes (long generations)
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class EngineMetrics:
    """Counts program executions and LM calls (tokens, cost, cache hits) on `registry`."""

    event_kinds = frozenset({"module", "lm", *_CONTAINERS})

    def __init__(self, registry: CollectorRegistry, *, namespace: str = "dspy_ash") -> None:
        self._containers: set[str] = set()
        self._roots: set[str] = set()
        self._models: set[str] = set()
        self.executions = Counter(
            "executions",
            "Program executions, by outcome.",
            ["status"],
            namespace=namespace,
            registry=registry,
        )
        self.execution_seconds = Histogram(
            "execution_duration_seconds", "Program execution time.", namespace=namespace,
            registry=registry, buckets=_SECONDS,
        )  # fmt: skip
        self.lm_calls = Counter(
            "lm_calls", "LM calls, by model and outcome.", ["model", "status"],
            namespace=namespace, registry=registry,
        )  # fmt: skip
        self.lm_cache_hits = Counter(
            "lm_cache_hits", "LM calls answered from the cache.", ["model"], namespace=namespace,
            registry=registry,
        )  # fmt: skip
        self.lm_tokens = Counter(
            "lm_tokens", "Tokens spent, by model and direction (input, output).", ["model", "direction"],
            namespace=namespace, registry=registry,
        )  # fmt: skip
        self.lm_cost = Counter(
            "lm_cost_usd", "LM cost as the providers' prices give it, in US dollars.", ["model"],
            namespace=namespace, registry=registry,
        )  # fmt: skip
        self.lm_seconds = Histogram(
            "lm_call_duration_seconds", "LM call time, by model.", ["model"], namespace=namespace,
            registry=registry, buckets=_SECONDS,
        )  # fmt: skip
        self._calls = 0
        self._hits = 0
        ratio = Gauge(
            "lm_cache_hit_ratio", "Share of LM calls answered from the cache since start-up.",
            namespace=namespace, registry=registry,
        )  # fmt: skip
        ratio.set_function(lambda: self._hits / self._calls if self._calls else 0.0)

    def on_event(self, event: Event) -> None:
        kind = event.kind
        if kind == "lm":
            if event.phase == "end":
                self._lm_end(event)
        elif kind == "module":
            if event.phase == "start":
                if event.parent_id is None or event.parent_id in self._containers:
                    self._roots.add(event.call_id)
            elif event.call_id in self._roots:
                self._roots.discard(event.call_id)
                self.executions.labels("error" if event.error is not None else "ok").inc()
                self.execution_seconds.observe(event.duration or 0.0)
        elif event.phase == "start":
            self._containers.add(event.call_id)
        else:
            self._containers.discard(event.call_id)

    __call__ = on_event

    def _lm_end(self, event: Event) -> None:
        # the configured name ("openai/gpt-4o-mini"), not the provider's dated one: fewer, steadier labels
        model = self._model_label(event.name)
        self._calls += 1
        self.lm_calls.labels(model, "error" if event.error is not None else "ok").inc()
        duration = event.extra.get("latency")
        self.lm_seconds.labels(model).observe(
            float(duration if duration is not None else event.duration or 0)
        )
        if event.extra.get("cache_hit"):
            self._hits += 1
            self.lm_cache_hits.labels(model).inc()
        usage = event.usage or {}
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if prompt:
            self.lm_tokens.labels(model, "input").inc(int(prompt))
        if completion:
            self.lm_tokens.labels(model, "output").inc(int(completion))
        cost = event.extra.get("cost")
        if cost:
            self.lm_cost.labels(model).inc(float(cost))

    def _model_label(self, model: str) -> str:
        if model in self._models:
            return model
        if len(self._models) >= _MAX_MODELS:
            return "other"
        self._models.add(model)
        return model
