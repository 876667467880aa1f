"""`invoke`: the one way in. Authorize, validate, run in the tenant's transaction, return the typed result."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from dspy_ash.actions._context import ActionContext, Actor, Services
from dspy_ash.actions._errors import (
    FieldProblem,
    InvalidRequestError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from dspy_ash.actions._policy import allows
from dspy_ash.actions._registry import REGISTRY, Action


def lookup(name: str) -> Action[Any, Any]:
    try:
        return REGISTRY[name]
    except KeyError:
        raise LookupError(f"no action named {name!r}") from None


def authorize(action: Action[Any, Any], actor: Actor | None) -> Actor:
    """The actor, if it may run `action`: no actor is UnauthenticatedError, a role without the scope is
    PermissionDeniedError. Tenancy is not checked here: every query is scoped to the actor's tenant."""
    if actor is None:
        raise UnauthenticatedError()
    if not allows(actor.role, action.scope):
        raise PermissionDeniedError(action=action.name, role=actor.role, scope=action.scope)
    return actor


def parse_request(action: Action[Any, Any], payload: BaseModel | Mapping[str, Any]) -> BaseModel:
    if isinstance(payload, BaseModel):
        if isinstance(payload, action.input):
            return payload
        data: Mapping[str, Any] = payload.model_dump(exclude_unset=True)
    else:
        data = payload
    try:
        return action.input.model_validate(data)
    except ValidationError as exc:
        raise invalid_request(exc) from None


def invalid_request(exc: ValidationError, prefix: str = "") -> InvalidRequestError:
    problems = [
        FieldProblem(field=".".join(str(p) for p in (prefix, *err["loc"]) if p != ""), message=err["msg"])
        for err in exc.errors(include_url=False, include_input=False)
    ]
    return InvalidRequestError(f"{len(problems)} invalid field(s)", problems)


async def invoke(
    services: Services,
    action: str | Action[Any, Any],
    actor: Actor | None,
    payload: BaseModel | Mapping[str, Any],
    *,
    request_id: str | None = None,
) -> Any:
    """Run one action for `actor` with `payload` (its input model, or a mapping validated into it)."""
    declared = lookup(action) if isinstance(action, str) else action
    who = authorize(declared, actor)
    request = parse_request(declared, payload)
    ctx = ActionContext(services=services, actor=who, request_id=request_id or uuid.uuid4().hex)
    if not declared.transactional:
        return await declared.handler(ctx, request)
    async with services.db.transaction(tenant_id=who.tenant_id) as session:
        ctx._session = session
        try:
            return await declared.handler(ctx, request)
        finally:
            ctx._session = None
