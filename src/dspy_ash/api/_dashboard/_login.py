"""Logging in and out: the actions layer's `login` and `logout`, as the REST session routes call them.

The session cookie is the REST API's own; the dashboard adds the CSRF token in a cookie of its own
(HttpOnly, SameSite=Strict, only under /dashboard) so that server-rendered pages can put it in forms.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from dspy_ash.actions import InvalidRequestError, RateLimitedError, UnauthenticatedError
from dspy_ash.actions._members import login, logout
from dspy_ash.api._auth import SESSION_COOKIE
from dspy_ash.api._dashboard._web import (
    CSRF_COOKIE,
    PREFIX,
    LoginRequired,
    Viewer,
    back_to,
    render,
    services_of,
    signed_in,
)

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a page of the dashboard: a login link must not send anyone elsewhere."""
    if target and target.startswith(f"{PREFIX}/") and "\\" not in target:
        return target
    return f"{PREFIX}/programs"


def _same_origin(request: Request) -> bool:
    """A browser's cross-site form post names its origin: such a post must not log anyone in."""
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host", "")


@router.get("/")
async def home() -> Response:
    return back_to(f"{PREFIX}/programs")


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    try:
        await signed_in(request)
    except LoginRequired:
        return render(request, "login.html", next=_safe_next(next), error=None, email="", tenant="")
    return back_to(_safe_next(next))


@router.post("/login")
async def log_in(
    request: Request,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    tenant: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    def again(status: int, error: str, *, ask_tenant: bool = False) -> Response:
        return render(request, "login.html", http_status=status, next=_safe_next(next), error=error,
                      email=email, tenant=tenant, ask_tenant=ask_tenant)  # fmt: skip

    if not _same_origin(request):
        return again(403, "this form must be sent from this site")
    services = services_of(request)
    try:
        done = await login(services, email=email, password=password, tenant=tenant or None)
    except UnauthenticatedError:
        return again(401, "wrong email or password")
    except InvalidRequestError as exc:  # an account in several tenants: which one
        return again(422, str(exc), ask_tenant=True)
    except RateLimitedError:
        return again(429, "too many attempts; wait a minute")
    response = back_to(_safe_next(next))
    settings = services.settings
    for name, value, path in ((SESSION_COOKIE, done.token, "/"), (CSRF_COOKIE, done.csrf_token, PREFIX)):
        response.set_cookie(name, value, max_age=int(settings.session_ttl_hours * 3600), path=path,
                            secure=settings.secure_cookies, httponly=True, samesite="strict")  # fmt: skip
    return response


@router.post("/logout")
async def log_out(request: Request, viewer: Annotated[Viewer, Depends(signed_in)]) -> Response:
    services = services_of(request)
    await logout(services, token=request.cookies[SESSION_COOKIE])
    response = back_to(f"{PREFIX}/login")
    secure = services.settings.secure_cookies
    for name, path in ((SESSION_COOKIE, "/"), (CSRF_COOKIE, PREFIX)):
        response.delete_cookie(name, path=path, secure=secure, httponly=True, samesite="strict")
    return response
