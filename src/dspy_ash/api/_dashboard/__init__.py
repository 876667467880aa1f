"""The web dashboard at /dashboard: server-rendered pages (Jinja2) over the actions, htmx for the parts
that refresh themselves. Same sessions as the REST API; every page calls actions through `invoke`.

    app.mount(PREFIX, build_dashboard(lambda: app.state.services))
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from dspy_ash.actions import Services
from dspy_ash.api._dashboard import (
    _activity,
    _admin,
    _compare,
    _datasets,
    _errors,
    _login,
    _programs,
    _runs,
    _traces,
)
from dspy_ash.api._dashboard._web import PREFIX, STATIC, SecurityHeadersMiddleware

__all__ = ["PREFIX", "build_dashboard"]


def build_dashboard(services_of: Callable[[], Services]) -> FastAPI:
    """The dashboard as an app of its own, to mount at PREFIX (its errors are pages, not problem+json)."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.services_of = services_of
    _errors.install(app)
    for module in (_login, _programs, _activity, _datasets, _compare, _runs, _traces, _admin):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(SecurityHeadersMiddleware)
    return app
