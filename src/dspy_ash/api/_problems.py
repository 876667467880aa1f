"""Errors as RFC 9457 problem details: one table from exception class to status and a stable `type`.

This is the only place where dspy-ash's errors become HTTP.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from dspy_ash import errors
from dspy_ash.actions import (
    ActionTimeoutError,
    BusyError,
    CsrfError,
    FieldProblem,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitedError,
    UnauthenticatedError,
)
from dspy_ash.store import (
    ConflictError,
    EnvNotAllowedError,
    IllegalTransitionError,
    InvalidCursorError,
    InvalidSpecError,
    InvalidValueError,
    NotFoundError,
    WrongParentError,
)

logger = logging.getLogger("dspy_ash.api")

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:dspy-ash:problem:"

# (class, status, type slug, title); the first class that matches wins, so subclasses come first.
PROBLEMS: list[tuple[type[BaseException], int, str, str]] = [
    (UnauthenticatedError, 401, "unauthenticated", "Authentication required"),
    (PermissionDeniedError, 403, "forbidden", "Not allowed"),
    (CsrfError, 403, "csrf", "CSRF token missing or wrong"),
    (NotFoundError, 404, "not-found", "Not found"),
    (WrongParentError, 404, "not-found", "Not found"),
    (IllegalTransitionError, 409, "illegal-transition", "Illegal state transition"),
    (ConflictError, 409, "conflict", "Conflict"),
    (InvalidCursorError, 400, "invalid-cursor", "Invalid cursor"),
    (InvalidRequestError, 422, "invalid-request", "Invalid request"),
    (InvalidSpecError, 422, "invalid-spec", "Invalid program spec"),
    (InvalidValueError, 422, "invalid-value", "Invalid value"),
    (EnvNotAllowedError, 422, "env-not-allowed", "Environment variable not allowed"),
    (errors.SignatureError, 422, "invalid-signature", "Invalid signature"),
    (RateLimitedError, 429, "rate-limited", "Too many requests"),
    (BusyError, 429, "busy", "Too busy"),
    (ActionTimeoutError, 504, "timeout", "Timed out"),
    (errors.LMError, 502, "lm-error", "Language model error"),
    (errors.AdapterParseError, 502, "lm-reply-unparsable", "Unparsable language model reply"),
    (errors.InvalidInputError, 422, "invalid-input", "Invalid input"),
    (errors.ConfigurationError, 422, "invalid-configuration", "Invalid configuration"),
]
_HTTP_SLUGS = {400: "bad-request", 404: "not-found", 405: "method-not-allowed", 413: "too-large",
               415: "unsupported-media-type"}  # fmt: skip


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, plus the request id and, for invalid requests, the fields at fault."""

    type: str = Field(examples=[TYPE_PREFIX + "not-found"])
    title: str
    status: int
    detail: str
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None


def problem_response(
    request: Request,
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    fields: list[FieldProblem] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=TYPE_PREFIX + slug,
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path,
        request_id=getattr(request.state, "request_id", None),
        errors=None if fields is None else [FieldError(field=f.field, message=f.message) for f in fields],
    )
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM_JSON, headers=headers
    )


def _retry_headers(exc: BaseException) -> dict[str, str] | None:
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(exc, RateLimitedError | BusyError) and retry_after is not None:
        return {"Retry-After": str(max(1, round(retry_after + 0.499)))}
    return None


async def _on_error(request: Request, exc: Exception) -> JSONResponse:
    for cls, status, slug, title in PROBLEMS:
        if isinstance(exc, cls):
            fields = exc.fields if isinstance(exc, InvalidRequestError) else None
            if isinstance(exc, InvalidValueError):
                fields = [FieldProblem(exc.field, str(exc))]
            if status == 401:
                headers: dict[str, str] | None = {"WWW-Authenticate": "Bearer"}
            else:
                headers = _retry_headers(exc)
            return problem_response(request, status, slug, title, str(exc), fields=fields, headers=headers)
    logger.exception("unhandled error in %s %s", request.method, request.url.path)
    return problem_response(request, 500, "internal", "Internal error", "the server failed; see its log")


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [
        FieldProblem(".".join(str(p) for p in err.get("loc", ())), str(err.get("msg", "")))
        for err in exc.errors()
    ]
    return problem_response(
        request, 422, "invalid-request", "Invalid request", f"{len(fields)} invalid field(s)", fields=fields
    )


def _allowed_methods(app: Any, path: str) -> list[str]:
    """Every method the OpenAPI document gives this path (Starlette's 405 names only the first route's)."""
    paths: dict[str, Any] = app.openapi()["paths"]
    if path in paths:  # a literal path (`/signatures/parse`) is not also its templated neighbour's
        return sorted(m.upper() for m in paths[path])
    methods: set[str] = set()
    for template, operations in paths.items():
        pattern = "^" + re.sub(r"\\{\w+\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            methods |= {m.upper() for m in operations}
    return sorted(methods)


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug = _HTTP_SLUGS.get(exc.status_code, f"http-{exc.status_code}")
    headers: dict[str, Any] | None = getattr(exc, "headers", None)
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request.app, request.url.path))}
    return problem_response(request, exc.status_code, slug, str(exc.detail), str(exc.detail), headers=headers)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(errors.DspyAshError, _on_error)  # handled inside the app, as a response
    app.add_exception_handler(Exception, _on_error)  # anything else: a 500 problem, and the error logged


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for these statuses, each a problem document."""
    return {
        status: {
            "model": Problem,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
