"""`/metrics` for Prometheus: HTTP requests by route template, the engine's work, runs by state.

Every app has its own `CollectorRegistry` (`app.state.metrics.registry`), so two apps in one process
(tests, embedding) count apart. Requests are labelled by the route's template
(`/api/v1/programs/{program_id}`), never the raw path, so ids cannot multiply the series; a path no
route matches counts as `<unmatched>`. Gauges that need the database (runs by state, the queue's depth)
are read at scrape time through an action that caches its answer for a few seconds.
"""

from __future__ import annotations

import hmac
import logging

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import Scope

from dspy_ash.actions import EngineMetrics, UnauthenticatedError, run_counts
from dspy_ash.api._auth import services_of

logger = logging.getLogger("dspy_ash.api")

UNMATCHED = "<unmatched>"
# any other method a client sends counts as "other": the method is the client's to choose
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# API calls take milliseconds; executions wait on LMs for seconds
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def route_template(scope: Scope, prefixes: frozenset[str] = frozenset()) -> str:
    """The template of the route that served `scope` (after routing), else `<unmatched>`.

    A route of an included router knows its template without the router's prefix; the prefix is the
    request path's leading segments that the template does not cover, kept only when it is one of
    `prefixes`, so nothing taken from the raw path can become a label value of its own."""
    route = scope.get("route")
    # path_format is the template without its converters ("{program_id:uuid}" -> "{program_id}")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(template, str):
        return UNMATCHED
    parts = str(scope.get("path", "")).split("/")
    prefix = "/".join(parts[: max(0, len(parts) - template.count("/"))])
    return prefix + template if prefix in prefixes else template


class ServiceMetrics:
    """The app's metrics: its registry, the HTTP ones, the engine's subscriber and the run gauges."""

    def __init__(self, *, prefixes: frozenset[str] = frozenset(), namespace: str = "dspy_ash") -> None:
        self.prefixes = prefixes  # the routers' path prefixes (route_template)
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ["method", "route", "status"]
        self.requests = Counter(
            "http_requests", "HTTP requests, by method, route template and status.", labels,
            namespace=namespace, registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "http_request_duration_seconds", "HTTP request time, by method, route template and status.",
            labels, namespace=namespace, registry=self.registry, buckets=_SECONDS,
        )  # fmt: skip
        self.in_flight = Gauge(
            "http_requests_in_flight", "HTTP requests being served.", namespace=namespace,
            registry=self.registry,
        )  # fmt: skip
        self.runs = Gauge(
            "runs", "Optimization and evaluation runs of every tenant, by kind and state.", ["kind", "state"],
            namespace=namespace, registry=self.registry,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "queue_depth", "Runs queued and not yet claimed by a worker.", namespace=namespace,
            registry=self.registry,
        )  # fmt: skip
        self.engine = EngineMetrics(self.registry, namespace=namespace)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        method = method if method in _METHODS else "other"
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route, str(status)).observe(seconds)

    async def refresh(self, request: Request) -> None:
        """Set the gauges read from the database (cached by the action), keeping the last values when
        the database does not answer: a scrape must not fail because of it."""
        try:
            counts = await run_counts(services_of(request))
        except Exception:
            logger.warning("could not count runs for /metrics", exc_info=True)
            return
        for (kind, state), n in counts.by_state.items():
            self.runs.labels(kind, state).set(n)
        self.queue_depth.set(counts.queued)


def metrics_of(app: FastAPI) -> ServiceMetrics:
    return app.state.metrics


def add_metrics_route(app: FastAPI, token: str | None) -> None:
    """GET /metrics in Prometheus' text format; with `token`, only for `Authorization: Bearer <token>`."""
    expected = f"Bearer {token}".encode() if token else None

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics.", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                raise UnauthenticatedError("/metrics needs its bearer token")
        observed = metrics_of(request.app)
        await observed.refresh(request)
        return Response(generate_latest(observed.registry), media_type=CONTENT_TYPE_LATEST)
