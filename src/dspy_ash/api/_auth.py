"""Who is calling: the bearer API key of a request, made into an `Actor` by the actions layer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from dspy_ash.actions import Action, Actor, Services, authenticate_key, authenticate_session, authorize

_bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer dak_...`")


def services_of(request: HTTPConnection) -> Services:
    return request.app.state.services


SESSION_COOKIE = "dspy_ash_session"
CSRF_HEADER = "X-CSRF-Token"


async def current_actor(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Actor | None:
    """The caller by bearer key, else by session cookie, else None (the action then answers 401).
    A rate-limited caller raises RateLimitedError (429); a cookie without its CSRF token, CsrfError (403)."""
    services = services_of(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    if credentials is not None:
        actor = await authenticate_key(services, credentials.credentials)
    elif cookie is not None:
        actor = await authenticate_session(
            services, cookie, method=request.method, csrf_token=request.headers.get(CSRF_HEADER)
        )
    else:
        actor = None
    request.state.actor = actor  # for the access line: which tenant and caller (ObserveMiddleware)
    return actor


def authorizer(action: Action[Any, Any]) -> Callable[..., Awaitable[Actor]]:
    """A dependency that answers 401 or 403 for `action` before FastAPI looks at the request's body, so
    a caller who may not run an action learns nothing of its input schema."""

    async def authorized(actor: Annotated[Actor | None, Depends(current_actor)]) -> Actor:
        return authorize(action, actor)

    return authorized
