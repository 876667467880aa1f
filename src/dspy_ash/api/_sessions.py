"""Logging in to the dashboard: a session cookie (HttpOnly, SameSite=Strict, Secure unless configured
off) and a CSRF token that the page sends back in `X-CSRF-Token` on every request that changes something.

These two routes are not actions (there is no caller yet to authorize); they call the actions layer's
`login` and `logout`, which check the password and write the audit events.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from dspy_ash.actions import UnauthenticatedError, authenticate_session
from dspy_ash.actions._members import login, logout
from dspy_ash.api._auth import CSRF_HEADER, SESSION_COOKIE, services_of
from dspy_ash.api._problems import problem_responses


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=320)
    password: SecretStr = Field(min_length=1, max_length=1024)
    tenant: str | None = Field(
        default=None, max_length=200, description="needed when the account has several"
    )


class SessionPublic(BaseModel):
    csrf_token: str = Field(description=f"send it back in `{CSRF_HEADER}` on POST, PATCH, PUT and DELETE")
    expires_at: datetime
    tenant_id: str
    role: str
    tenants: list[str]


def build_session_router() -> APIRouter:
    router = APIRouter(tags=["session"])

    @router.post("/session", response_model=SessionPublic, responses=problem_responses(401, 413, 422, 429))
    async def log_in(
        request: Request, response: Response, body: Annotated[LoginRequest, Body()]
    ) -> SessionPublic:
        """Log in with email and password; sets the session cookie and returns the CSRF token."""
        services = services_of(request)
        done = await login(
            services, email=body.email, password=body.password.get_secret_value(), tenant=body.tenant
        )
        response.set_cookie(
            SESSION_COOKIE,
            done.token,
            max_age=int(services.settings.session_ttl_hours * 3600),
            path="/",
            secure=services.settings.secure_cookies,
            httponly=True,
            samesite="strict",
        )
        return SessionPublic(
            csrf_token=done.csrf_token,
            expires_at=done.expires_at,
            tenant_id=str(done.actor.tenant_id),
            role=done.actor.role,
            tenants=done.tenants,
        )

    @router.delete("/session", status_code=204, responses=problem_responses(401, 403))
    async def log_out(request: Request) -> Response:
        """Log out: the session ends (it needs the CSRF token, like every change made with the cookie)."""
        services = services_of(request)
        token = request.cookies.get(SESSION_COOKIE)
        actor = token and await authenticate_session(
            services, token, method="DELETE", csrf_token=request.headers.get(CSRF_HEADER)
        )
        if not token or actor is None:
            raise UnauthenticatedError()
        await logout(services, token=token)
        response = Response(status_code=204)
        response.delete_cookie(
            SESSION_COOKIE,
            path="/",
            secure=services.settings.secure_cookies,
            httponly=True,
            samesite="strict",
        )
        return response

    return router
