"""Errors as pages: the problem's status, title and detail (the REST API's table), never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dspy_ash import errors
from dspy_ash.actions import InvalidRequestError, UnauthenticatedError
from dspy_ash.api._dashboard._web import LoginRequired, login_redirect, render
from dspy_ash.api._problems import PROBLEMS

logger = logging.getLogger("dspy_ash.api.dashboard")


def _page(
    request: Request, status: int, title: str, detail: str, fields: list[str] | None = None
) -> Response:
    return render(
        request,
        "error.html",
        http_status=status,
        status_code=status,
        title=title,
        detail=detail,
        fields=fields or [],
        request_id=getattr(request.state, "request_id", None),
    )


def problem_of(exc: BaseException) -> tuple[int, str] | None:
    """The status and title the REST API gives this error (its problem table), or None for none."""
    for cls, status, _slug, title in PROBLEMS:
        if isinstance(exc, cls):
            return status, title
    return None


async def _on_login_required(request: Request, exc: Exception) -> Response:
    return login_redirect(request)


async def _on_error(request: Request, exc: Exception) -> Response:
    if isinstance(exc, UnauthenticatedError):  # the session ended while the page was open
        return login_redirect(request)
    if (problem := problem_of(exc)) is not None:
        fields = (
            [f"{f.field}: {f.message}" for f in exc.fields] if isinstance(exc, InvalidRequestError) else None
        )
        return _page(request, *problem, str(exc), fields)
    logger.exception("unhandled error in %s %s", request.method, request.url.path)
    return _page(request, 500, "Internal error", "the server failed; see its log")


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields = [f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', '')}" for err in exc.errors()]
    return _page(request, 422, "Invalid request", f"{len(fields)} invalid field(s)", fields)


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    title = "Not found" if exc.status_code == 404 else str(exc.detail)
    return _page(request, exc.status_code, title, str(exc.detail))


def install(app: FastAPI) -> None:
    app.add_exception_handler(LoginRequired, _on_login_required)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(errors.DspyAshError, _on_error)
    app.add_exception_handler(Exception, _on_error)
