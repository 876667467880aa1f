"""The FastAPI application: REST under /api/v1 derived from the actions, health and readiness."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from dspy_ash.actions import REGISTRY, Services, ServiceSettings, start_serving, stop_serving
from dspy_ash.actions._ops import readiness
from dspy_ash.api import _problems
from dspy_ash.api._auth import services_of
from dspy_ash.api._middleware import BodyLimitMiddleware, RequestIdMiddleware
from dspy_ash.api._rest import build_router
from dspy_ash.api._serving_routes import serving_router
from dspy_ash.store import Database, connect

API_PREFIX = "/api/v1"


def create_app(
    settings: ServiceSettings | None = None, *, db: Database | None = None, services: Services | None = None
) -> FastAPI:
    """The service. Give `services` (tests, embedding) or `db`, or let it connect to
    `settings.database_url` at start-up (refusing a database whose schema is behind)."""
    settings = settings or (services.settings if services else ServiceSettings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncGenerator[None]:
        owned = None
        if services is not None:
            app.state.services = services
        else:
            owned = db or await connect(settings.database_url)
            app.state.services = Services(db=owned, settings=settings)
        await start_serving(app.state.services)
        try:
            yield
        finally:
            await stop_serving(app.state.services)
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
    _problems.install(app)
    app.include_router(build_router(REGISTRY.values()), prefix=API_PREFIX)
    app.include_router(serving_router(), prefix=API_PREFIX)
    _add_health(app)
    # outermost last: the request id exists before the body limit can refuse
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    return app


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
