"""What every dashboard page shares: the templates, the signed-in person, calling actions, the security
headers, and errors rendered as pages.

A page knows its caller by the session cookie the REST API also accepts (`dspy_ash_session`); the
dashboard's login adds a second cookie holding the session's CSRF token, which pages put in their forms
(`csrf_token`) and in htmx's request headers. A POST must bring it back in the form or the header: the
cookie alone never changes anything, as for the REST API.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dspy_ash.actions import (
    Actor,
    PermissionDeniedError,
    Services,
    UnauthenticatedError,
    allows,
    authenticate_session,
    invoke,
)
from dspy_ash.api._auth import CSRF_HEADER, SESSION_COOKIE

logger = logging.getLogger("dspy_ash.api.dashboard")

PREFIX = "/dashboard"
CSRF_COOKIE = "dspy_ash_csrf"
CSRF_FIELD = "csrf_token"
HERE = Path(__file__).parent
STATIC = HERE / "static"
HTMX = "htmx-2.0.11.min.js"

# No inline script or style anywhere: scripts and styles are static files; bars and charts are SVG
# attributes. `form-action 'self'` keeps forms on this server; `frame-ancestors 'none'` forbids framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeadersMiddleware:
    """The dashboard's security headers on every response it sends, pages, fragments, errors and files;
    pages are not cached (they show a tenant's data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith(f"{PREFIX}/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in _HEADERS} | ({b"cache-control"} if not static else set())
                kept = [h for h in message.get("headers", []) if h[0].lower() not in names]
                extra = [] if static else [(b"cache-control", b"no-store")]
                message["headers"] = [*kept, *_HEADERS, *extra]
            await send(message)

        await self.app(scope, receive, with_headers)


class LoginRequired(UnauthenticatedError):
    """No valid session: the page answers with a redirect to the login form (the API's 401)."""


# the admins' pages: slug -> (title, the scope it needs); the header links those the role holds
ADMIN_PAGES = {
    "providers": ("Providers", "providers:write"),
    "members": ("Members", "members:read"),
    "keys": ("API keys", "api_keys:read"),
    "audit": ("Audit log", "audit:read"),
}


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person: the actor actions run as, its tenant's name, and the page's CSRF token."""

    actor: Actor
    tenant: str
    csrf: str

    @property
    def role(self) -> str:
        return self.actor.role

    def may(self, scope: str) -> bool:
        return allows(self.actor.role, scope)

    @property
    def admin_links(self) -> list[tuple[str, str]]:
        return [(slug, title) for slug, (title, scope) in ADMIN_PAGES.items() if self.may(scope)]


def services_of(request: Request) -> Services:
    """The host app's services (the dashboard is mounted in it; `request.app` is the dashboard)."""
    return request.app.state.services_of()


async def signed_in(request: Request) -> Viewer:
    """The page's caller, by session cookie; LoginRequired without one. A POST must carry the CSRF token
    (form field or header), else CsrfError (403)."""
    services = services_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    csrf_cookie = request.cookies.get(CSRF_COOKIE)
    if not token or not csrf_cookie:  # a session opened through the REST API has no token for pages
        raise LoginRequired()
    sent: str | None = None
    if request.method not in ("GET", "HEAD"):
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and _is_form(request):
            field = (await request.form()).get(CSRF_FIELD)
            sent = field if isinstance(field, str) else None
    actor = await authenticate_session(services, token, method=request.method, csrf_token=sent)
    if actor is None:
        raise LoginRequired()
    request.state.actor = actor  # for the access line
    tenant = await invoke(services, "tenant.get", actor, {}, request_id=request_id(request))
    return Viewer(actor=actor, tenant=tenant.name, csrf=csrf_cookie)


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def require(viewer: Viewer, scope: str, page: str) -> None:
    """PermissionDeniedError (403) unless the viewer's role holds `scope`: for pages that show more than
    one action could refuse (an admin page)."""
    if not viewer.may(scope):
        raise PermissionDeniedError(action=f"open {page}", role=viewer.role, scope=scope)


async def call(request: Request, viewer: Viewer, name: str, payload: BaseModel | Mapping[str, Any]) -> Any:
    """Run an action as the signed-in person (the policy, tenancy and audit are the action's)."""
    return await invoke(services_of(request), name, viewer.actor, payload, request_id=request_id(request))


def drop_none(**values: Any) -> dict[str, Any]:
    """A payload of the values given (query parameters the page did not get are left to the defaults)."""
    return {k: v for k, v in values.items() if v not in (None, "")}


# --- templates -----------------------------------------------------------------------------------------


def _when(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _score(value: float | None) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def _cost(value: float | None) -> str:
    return "—" if value is None else f"${value:.4f}"


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=True)


def _short(value: Any) -> str:
    return str(value)[:8]


ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(
    when=_when, seconds=_seconds, percent=_percent, score=_score, cost=_cost, pretty=_pretty, short=_short
)
TEMPLATE_GLOBALS: dict[str, Any] = {"prefix": PREFIX, "htmx": HTMX, "csrf_field": CSRF_FIELD, "quote": quote}
ENV.globals.update(TEMPLATE_GLOBALS)


def render(
    request: Request, template: str, viewer: Viewer | None = None, *, http_status: int = 200, **context: Any
) -> HTMLResponse:
    """A page (or an htmx fragment) from its template, with the header's facts."""
    settings = services_of(request).settings
    html = ENV.get_template(template).render(
        viewer=viewer,
        path=request.url.path,
        stand_in=getattr(settings, "stand_in_notice", None),
        **context,
    )
    return HTMLResponse(html, status_code=http_status)


def back_to(url: str) -> RedirectResponse:
    """After a change: see the page again (303, so a reload does not post twice)."""
    return RedirectResponse(url, status_code=303)


def login_redirect(request: Request) -> Response:
    """To the login form, remembering the page; an htmx fragment request is told to load the form."""
    target = f"{PREFIX}/login"
    if request.method == "GET" and request.url.path != f"{PREFIX}/login":
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += f"?next={quote(wanted, safe='')}"
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)
