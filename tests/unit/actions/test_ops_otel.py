"""OpenTelemetry export: a span per module and LM call, nested as the calls were, with GenAI attributes.

The subscriber needs only `opentelemetry-api` to build spans; the recording tracer here stands in for
an SDK. The test with the real SDK and its in-memory exporter runs where the `otel` extra is installed.
"""

from __future__ import annotations

from typing import Any, cast

import pytest

pytest.importorskip("opentelemetry.trace", reason="opentelemetry-api is not installed (extra `otel`)")

from opentelemetry import trace
from test_ops_engine_metrics import CountingLM

import dspy_ash
from dspy_ash.actions._otel import OTelExporter
from dspy_ash.errors import ConfigurationError


class RecordedSpan(trace.NonRecordingSpan):
    """A span that keeps what it is told (a Span subclass, so the API's context helpers carry it)."""

    def __init__(
        self, name: str, kind: trace.SpanKind, parent: RecordedSpan | None, attributes: dict[str, Any],
        start_time: int | None,
    ) -> None:  # fmt: skip
        super().__init__(trace.INVALID_SPAN_CONTEXT)
        self.name = name
        self.kind = kind
        self.parent = parent
        self.attributes = attributes
        self.start_time = start_time
        self.end_time: int | None = None
        self.status: trace.Status | None = None
        self.exceptions: list[BaseException] = []

    def set_attribute(self, key: str, value: Any) -> None:
        self.attributes[key] = value

    def record_exception(self, exception: BaseException, *args: Any, **kwargs: Any) -> None:
        self.exceptions.append(exception)

    def set_status(self, status: Any, description: str | None = None) -> None:
        self.status = status

    def end(self, end_time: int | None = None) -> None:
        self.end_time = end_time

    def is_recording(self) -> bool:
        return True


class RecordingTracer:
    def __init__(self) -> None:
        self.spans: list[RecordedSpan] = []

    def start_span(
        self, name: str, context: Any = None, kind: trace.SpanKind = trace.SpanKind.INTERNAL,
        attributes: Any = None, start_time: int | None = None, **_: Any,
    ) -> RecordedSpan:  # fmt: skip
        parent = trace.get_current_span(context) if context is not None else None
        assert parent is None or isinstance(parent, RecordedSpan)
        span = RecordedSpan(name, kind, parent, dict(attributes or {}), start_time)
        self.spans.append(span)
        return span


def exporter_with(tracer: RecordingTracer) -> OTelExporter:
    return OTelExporter(cast(trace.Tracer, tracer))


class TwoSteps(dspy_ash.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first = dspy_ash.Predict("question -> answer")
        self.second = dspy_ash.Predict("question -> answer")

    def forward(self, question: str) -> Any:
        self.first(question=question)
        return self.second(question=question, config={"temperature": 0.3})


def test_spans_nest_as_the_calls_did_with_gen_ai_attributes() -> None:
    tracer = RecordingTracer()
    with dspy_ash.context(lm=CountingLM(), callbacks=[exporter_with(tracer)]):
        TwoSteps()(question="capital of France?")

    names = [s.name for s in tracer.spans]
    assert names == ["TwoSteps", "Predict", "chat fake-model", "Predict", "chat fake-model"]
    root, first, first_lm, second, second_lm = tracer.spans
    assert root.parent is None
    assert first.parent is root and second.parent is root
    assert first_lm.parent is first and second_lm.parent is second
    assert all(s.end_time is not None and s.start_time is not None for s in tracer.spans)
    assert all(s.end_time >= s.start_time for s in tracer.spans if s.end_time and s.start_time)

    assert first_lm.kind is trace.SpanKind.CLIENT and root.kind is trace.SpanKind.INTERNAL
    assert first_lm.attributes["gen_ai.operation.name"] == "chat"
    assert first_lm.attributes["gen_ai.system"] == "openai"
    assert first_lm.attributes["gen_ai.request.model"] == "fake-model"
    assert first_lm.attributes["gen_ai.response.model"] == "fake-model-2026-01-01"
    assert first_lm.attributes["gen_ai.usage.input_tokens"] == 12
    assert first_lm.attributes["gen_ai.usage.output_tokens"] == 8
    assert first_lm.attributes["dspy_ash.cost_usd"] == 0.5
    assert second_lm.attributes["gen_ai.request.temperature"] == 0.3
    assert second_lm.attributes["dspy_ash.cache_hit"] is True  # CountingLM: every second call
    assert second_lm.attributes["gen_ai.usage.input_tokens"] == 0
    # prompts and replies stay in the store, not in the exported spans
    assert not any("messages" in key or "prompt" in key for s in tracer.spans for key in s.attributes)


def test_a_failed_call_is_an_error_span_with_its_exception() -> None:
    tracer = RecordingTracer()
    with (
        dspy_ash.context(lm=CountingLM(fail=True), callbacks=[exporter_with(tracer)]),
        pytest.raises(RuntimeError),
    ):
        dspy_ash.Predict("question -> answer")(question="?")
    for span in tracer.spans:
        assert span.status is not None and span.status.status_code is trace.StatusCode.ERROR
        assert span.attributes["error.type"] == "RuntimeError"
        assert [type(e) for e in span.exceptions] == [RuntimeError]


def test_from_environment_without_the_sdk_names_the_extra() -> None:
    try:
        import opentelemetry.sdk.trace  # noqa: F401  # pyright: ignore[reportMissingImports, reportUnusedImport]
    except ImportError:
        with pytest.raises(ConfigurationError, match=r"dspy-ash\[otel\]"):
            OTelExporter.from_environment()
    else:
        exporter = OTelExporter.from_environment()  # no collector needed to build it
        exporter.shutdown()


def test_with_the_sdk_spans_reach_an_exporter() -> None:
    sdk_trace = pytest.importorskip(
        "opentelemetry.sdk.trace", reason="opentelemetry-sdk is not installed (extra `otel`)"
    )
    export = pytest.importorskip("opentelemetry.sdk.trace.export")
    memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
    spans = memory.InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(spans))
    exporter = OTelExporter(provider.get_tracer("test"), provider=provider)
    with dspy_ash.context(lm=CountingLM(), callbacks=[exporter]):
        dspy_ash.Predict("question -> answer")(question="?")
    exporter.shutdown()
    finished = spans.get_finished_spans()
    assert [s.name for s in finished] == ["chat fake-model", "Predict"]
    lm_span, module_span = finished
    assert lm_span.parent is not None and lm_span.parent.span_id == module_span.context.span_id
    assert lm_span.attributes["gen_ai.usage.input_tokens"] == 12
