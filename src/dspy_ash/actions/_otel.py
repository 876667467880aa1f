"""The engine's calls as OpenTelemetry spans, so traces also show up in Jaeger, Langfuse or Phoenix.

    exporter = OTelExporter.from_environment()   # extra `otel`: the SDK and an OTLP exporter, OTEL_* vars
    add_process_callback(exporter)

One span per module, LM and tool call, nested as the calls were. LM spans follow OpenTelemetry's GenAI
semantic conventions (`chat {model}`, kind CLIENT, `gen_ai.operation.name`, `gen_ai.system` and
`gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.response.model`, `gen_ai.usage.input_tokens`
and `gen_ai.usage.output_tokens`, request parameters); tool spans are `execute_tool {name}`. Prompts
and replies are not exported: they are the tenants' data, and stay in the store's traces.

Only `opentelemetry-api` is needed to build spans; without an SDK they go nowhere (the API's no-op).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from dspy_ash.errors import ConfigurationError
from dspy_ash.events import Event

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

INSTRUMENTATION = "dspy_ash"
_REQUEST_PARAMS = {
    "temperature": "gen_ai.request.temperature",
    "max_tokens": "gen_ai.request.max_tokens",
    "top_p": "gen_ai.request.top_p",
    "n": "gen_ai.request.choice.count",
    "seed": "gen_ai.request.seed",
}
_MISSING = (
    "OpenTelemetry export needs the SDK and the OTLP exporter: pip install 'dspy-ash[otel]' "
    "(opentelemetry-sdk, opentelemetry-exporter-otlp-proto-http)"
)


class OTelExporter:
    """An event subscriber that turns each module, LM and tool call into a span of `tracer`."""

    event_kinds = frozenset({"module", "lm", "tool"})

    def __init__(self, tracer: Tracer, *, provider: Any = None) -> None:
        from opentelemetry import trace  # the API: a subscriber exists only where it is installed

        self._trace = trace
        self._tracer = tracer
        self._provider = provider  # the SDK provider from_environment made, flushed at shutdown
        self._spans: dict[str, Span] = {}

    @classmethod
    def from_environment(cls) -> OTelExporter:
        """A tracer provider exporting over OTLP/HTTP in batches, configured by the standard variables
        (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, ...). ConfigurationError without the extra."""
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # pyright: ignore[reportMissingImports]
                OTLPSpanExporter,
            )
            from opentelemetry.sdk.resources import Resource  # pyright: ignore[reportMissingImports]
            from opentelemetry.sdk.trace import TracerProvider  # pyright: ignore[reportMissingImports]
            from opentelemetry.sdk.trace.export import (  # pyright: ignore[reportMissingImports]
                BatchSpanProcessor,
            )
        except ImportError as exc:
            raise ConfigurationError(_MISSING) from exc
        provider = TracerProvider(resource=Resource.create({"service.name": "dspy-ash"}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        return cls(provider.get_tracer(INSTRUMENTATION), provider=provider)

    def on_event(self, event: Event) -> None:
        if event.phase == "start":
            self._start(event)
        else:
            self._end(event)

    __call__ = on_event

    def _start(self, event: Event) -> None:
        trace = self._trace
        parent = self._spans.get(event.parent_id) if event.parent_id is not None else None
        # a top-level call joins whatever span is current (the HTTP request's, when the app is instrumented)
        context = trace.set_span_in_context(parent) if parent is not None else None
        name, client, attributes = _describe(event)
        kind = trace.SpanKind.CLIENT if client else trace.SpanKind.INTERNAL
        self._spans[event.call_id] = self._tracer.start_span(
            name, context=context, kind=kind, attributes=attributes, start_time=int(event.started_at * 1e9)
        )

    def _end(self, event: Event) -> None:
        span = self._spans.pop(event.call_id, None)
        if span is None:  # started before this subscriber was
            return
        if event.kind == "lm":
            for key, value in _lm_result(event).items():
                span.set_attribute(key, value)
        if event.error is not None:
            span.record_exception(event.error)
            span.set_attribute("error.type", type(event.error).__qualname__)
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, str(event.error)[:500]))
        span.end(end_time=int((event.started_at + (event.duration or 0.0)) * 1e9))

    def shutdown(self) -> None:
        """Send what is batched (when this exporter made its SDK provider)."""
        if self._provider is not None:
            with contextlib.suppress(Exception):  # a collector that is gone must not fail the shutdown
                self._provider.shutdown()


def _describe(event: Event) -> tuple[str, bool, dict[str, Any]]:
    """The span's name, whether it is a client call (an LM's), and its attributes at start."""
    if event.kind == "lm":
        provider, _, model = event.name.rpartition("/")
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": provider or "unknown",
            "gen_ai.provider.name": provider or "unknown",
            "gen_ai.request.model": model or event.name,
        }
        params = (event.inputs or {}).get("kwargs") or {}
        for key, attribute in _REQUEST_PARAMS.items():
            value = params.get(key) if isinstance(params, dict) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                attributes[attribute] = value
        return f"chat {model or event.name}", True, attributes
    if event.kind == "tool":
        attributes = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": event.name}
        return f"execute_tool {event.name}", False, attributes
    return event.name, False, {"dspy_ash.kind": event.kind, "dspy_ash.module": event.name}


def _lm_result(event: Event) -> dict[str, Any]:
    usage = event.usage or {}
    extra = event.extra
    result: dict[str, Any] = {
        "gen_ai.usage.input_tokens": int(usage.get("prompt_tokens") or 0),
        "gen_ai.usage.output_tokens": int(usage.get("completion_tokens") or 0),
        "dspy_ash.cache_hit": bool(extra.get("cache_hit", False)),
    }
    if extra.get("model"):
        result["gen_ai.response.model"] = str(extra["model"])
    if extra.get("request_id"):
        result["gen_ai.response.id"] = str(extra["request_id"])
    if extra.get("cost") is not None:
        result["dspy_ash.cost_usd"] = float(extra["cost"])
    return result
