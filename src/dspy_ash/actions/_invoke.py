"""`invoke`: the one way in. Authorize, validate, run in the tenant's transaction, return the typed result."""

from __future__ import annotations

import hashlib
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
from dspy_ash.store import ConflictError, repos
from dspy_ash.store.repos import audit


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
    idempotency_key: str | None = None,
) -> Any:
    """Run one action for `actor` with `payload` (its input model, or a mapping validated into it).

    With `idempotency_key` (actions declared `idempotent`), a retry of the same request replays the first
    result instead of running again; the same key with another request is a ConflictError.
    """
    declared = lookup(action) if isinstance(action, str) else action
    who = authorize(declared, actor)
    request = parse_request(declared, payload)
    if idempotency_key is not None and not declared.idempotent:
        problem = FieldProblem("header.Idempotency-Key", f"{declared.name} does not take one")
        raise InvalidRequestError(f"{declared.name} does not take an Idempotency-Key", [problem])
    ctx = ActionContext(services=services, actor=who, request_id=request_id or uuid.uuid4().hex)
    with audit.request_scope(ctx.request_id):
        if not declared.transactional:
            return await declared.handler(ctx, request)
        async with services.db.transaction(tenant_id=who.tenant_id) as session:
            ctx._session = session
            try:
                if idempotency_key is None:
                    return await declared.handler(ctx, request)
                return await _once(ctx, declared, request, idempotency_key)
            finally:
                ctx._session = None


async def _once(ctx: ActionContext, declared: Action[Any, Any], request: BaseModel, key: str) -> Any:
    """Run the action unless this key ran it before; save its result in the same transaction."""
    digest = hashlib.sha256(request.model_dump_json().encode()).hexdigest()
    found = await repos.idempotency.lookup(
        ctx.session, tenant_id=ctx.tenant_id, action=declared.name, key=key
    )
    if found is not None:
        if found.request_hash != digest:
            raise ConflictError(
                f"Idempotency-Key {key!r} was used for a different {declared.name} request",
                resource="idempotency_record",
            )
        return declared.output.model_validate(found.response)
    result = await declared.handler(ctx, request)
    await repos.idempotency.save(
        ctx.session,
        tenant_id=ctx.tenant_id,
        action=declared.name,
        key=key,
        request_hash=digest,
        status_code=declared.http.status if declared.http else 200,
        response=result.model_dump(mode="json"),
    )
    return result
