"""Who is calling: the bearer API key of a request, made into an `Actor` by the actions layer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dspy_ash.actions import Action, Actor, Services, authenticate_key, authorize

_bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer dak_...`")


def services_of(request: Request) -> Services:
    return request.app.state.services


async def current_actor(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Actor | None:
    """The caller, or None (the action then answers 401). A rate-limited key raises RateLimitedError (429)."""
    if credentials is None:
        return None
    actor = await authenticate_key(services_of(request), credentials.credentials)
    request.state.actor = actor  # for the access line: which tenant and key (ObserveMiddleware)
    return actor


def authorizer(action: Action[Any, Any]) -> Callable[..., Awaitable[Actor]]:
    """A dependency that answers 401 or 403 for `action` before FastAPI looks at the request's body, so
    a caller who may not run an action learns nothing of its input schema."""

    async def authorized(actor: Annotated[Actor | None, Depends(current_actor)]) -> Actor:
        return authorize(action, actor)

    return authorized
