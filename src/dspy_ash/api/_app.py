"""The FastAPI application: REST under /api/v1 derived from the actions, GraphQL at /graphql, the web
dashboard at /dashboard, health, readiness and metrics."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from dspy_ash.actions import (
    REGISTRY,
    OTelExporter,
    Services,
    ServiceSettings,
    readiness,
    start_serving,
    stop_serving,
)
from dspy_ash.api import _problems
from dspy_ash.api._auth import services_of
from dspy_ash.api._dashboard import PREFIX as DASHBOARD_PREFIX
from dspy_ash.api._dashboard import build_dashboard
from dspy_ash.api._graphql import graphql_router
from dspy_ash.api._metrics import ServiceMetrics, add_metrics_route
from dspy_ash.api._middleware import (
    BodyLimitMiddleware,
    ObserveMiddleware,
    RequestIdMiddleware,
    StandInMiddleware,
)
from dspy_ash.api._rest import build_router
from dspy_ash.api._run_events import run_events_router
from dspy_ash.api._serving_routes import answer_router, serving_router
from dspy_ash.api._sessions import build_session_router
from dspy_ash.jobs import RunWorker
from dspy_ash.settings import add_process_callback, remove_process_callback
from dspy_ash.store import Database, connect

API_PREFIX = "/api/v1"


def create_app(
    settings: ServiceSettings | None = None, *, db: Database | None = None, services: Services | None = None
) -> FastAPI:
    """The service. Give `services` (tests, embedding) or `db`, or let it connect to
    `settings.database_url` at start-up (refusing a database whose schema is behind)."""
    settings = settings or (services.settings if services else ServiceSettings())
    metrics = ServiceMetrics(prefixes=frozenset({API_PREFIX}))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncGenerator[None]:
        owned = None
        if services is not None:
            app.state.services = services
        else:
            owned = db or await connect(settings.database_url)
            app.state.services = Services(db=owned, settings=settings)
        subscribers: list[Any] = [metrics.engine, *_exporters(settings)]
        for subscriber in subscribers:  # the engine's calls in this process, whoever makes them
            add_process_callback(subscriber)
        await start_serving(app.state.services)
        worker = None
        if settings.run_slots:  # the server works on runs itself (SQLite's one machine; more with PostgreSQL)
            worker = RunWorker(
                app.state.services, slots=settings.run_slots, lease_seconds=settings.run_lease_seconds
            )
            await worker.start()
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
            await stop_serving(app.state.services)
            for subscriber in subscribers:
                remove_process_callback(subscriber)
                if hasattr(subscriber, "shutdown"):
                    subscriber.shutdown()
            if owned is not None and db is None:
                await owned.dispose()

    app = FastAPI(
        title="dspy-ash",
        version="0.1.0",
        description="DSPy programs, their versions, datasets, runs and traces as resources.",
        lifespan=lifespan,
    )
    if services is not None:  # usable before start-up too (in-process tests without a lifespan)
        app.state.services = services
    app.state.metrics = metrics
    _problems.install(app)
    app.include_router(build_router(REGISTRY.values()), prefix=API_PREFIX)
    app.include_router(build_session_router(), prefix=API_PREFIX)
    app.include_router(graphql_router(), include_in_schema=False)  # GraphQL documents itself
    app.include_router(serving_router(), prefix=API_PREFIX)
    app.include_router(run_events_router(), prefix=API_PREFIX)
    app.include_router(answer_router())  # at the root, as the worked example serves it
    app.mount(DASHBOARD_PREFIX, build_dashboard(lambda: app.state.services))  # pages, not in the OpenAPI
    _add_health(app)
    token = settings.metrics_token
    add_metrics_route(app, token.get_secret_value() if token is not None else None)
    # outermost last: the request id exists before the body limit can refuse, and a refused body is
    # still logged and counted
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(ObserveMiddleware, metrics=metrics)
    app.add_middleware(RequestIdMiddleware)
    if settings.stand_in_notice:
        app.add_middleware(StandInMiddleware, notice=settings.stand_in_notice)
    return app


def _exporters(settings: ServiceSettings) -> list[Any]:
    """The optional event subscribers the settings turn on (OpenTelemetry export)."""
    return [OTelExporter.from_environment()] if settings.otel_export else []


def _add_health(app: FastAPI) -> None:
    @app.get("/healthz", tags=["operations"], summary="The process is up.")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"], summary="The database answers and its schema is current.")
    async def readyz(request: Request) -> JSONResponse:
        ready, why = await readiness(services_of(request))
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "detail": why}, status_code=200 if ready else 503
        )
