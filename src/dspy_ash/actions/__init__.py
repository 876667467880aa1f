"""dspy_ash.actions: every operation of the service, declared once, with its policy and typed models.

    services = Services(db=await connect())
    actor = await authenticate_key(services, "dak_...")
    program = await invoke(services, "programs.create", actor, {"name": "qa", "source": "app.qa:QA"})

REST (`dspy_ash.api`), GraphQL, the CLI and jobs call actions only through `invoke`; nothing outside
this package queries the store. `REGISTRY` lists every action; `SCOPES` says which roles hold which scope.
"""

from dspy_ash.actions import _cache, _datasets, _programs, _runs, _signatures, _telemetry, _tenancy, _versions  # noqa: F401  # pyright: ignore[reportUnusedImport]  (they declare the actions)
from dspy_ash.actions._auth import authenticate_key
from dspy_ash.actions._config import ServiceSettings
from dspy_ash.actions._context import ActionContext, Actor, Services
from dspy_ash.actions._errors import (
    ActionError,
    ActionTimeoutError,
    BusyError,
    FieldProblem,
    InvalidRequestError,
    PermissionDeniedError,
    RateLimitedError,
    UnauthenticatedError,
)
from dspy_ash.actions._invoke import authorize, invalid_request, invoke, lookup
from dspy_ash.actions._policy import ROLES, SCOPES, allows
from dspy_ash.actions._registry import REGISTRY, Action, Http, Kind, action
from dspy_ash.actions._schemas import ListRequest, Page, Public, Request

__all__ = [
    "REGISTRY",
    "ROLES",
    "SCOPES",
    "Action",
    "ActionContext",
    "ActionError",
    "ActionTimeoutError",
    "Actor",
    "BusyError",
    "FieldProblem",
    "Http",
    "InvalidRequestError",
    "Kind",
    "ListRequest",
    "Page",
    "PermissionDeniedError",
    "Public",
    "RateLimitedError",
    "Request",
    "ServiceSettings",
    "Services",
    "UnauthenticatedError",
    "action",
    "allows",
    "authenticate_key",
    "authorize",
    "invalid_request",
    "invoke",
    "lookup",
]
