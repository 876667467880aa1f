"""REST routes derived from the action registry: one route per action that declares `http`.

Path parameters, query parameters (GET and DELETE) and the JSON body (other methods) are the fields of
the action's input model, split by where they travel; the response is its output model. Every route
calls `invoke`, so policy, tenancy, validation and audit are the action's, never the route's.
"""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, create_model

from dspy_ash.actions import Action, Actor, invoke
from dspy_ash.api._auth import authorizer, services_of
from dspy_ash.api._problems import problem_responses

_PATH_PARAM = re.compile(r"{(\w+)}")
_NO_BODY = frozenset({"GET", "DELETE"})


def _statuses(action: Action[Any, Any]) -> tuple[int, ...]:
    statuses = [400, 401, 403, 413, 422, 429]  # 400: malformed body or cursor; 413: body over the limit
    if "{" in (action.http.path if action.http else ""):
        statuses.append(404)
    if action.kind in ("create", "update", "action"):
        statuses.append(409)
    return tuple(sorted(statuses))


def route_path(path: str, model: type[BaseModel]) -> str:
    """The route's path with a UUID parameter matched as a UUID, so a literal neighbour such as
    `/signatures/parse` is not also `/signatures/{signature_id}` to another method: that is a 405,
    and a segment that is no UUID a 404 (no such resource), never a UUID validation error."""
    fields = model.model_fields

    def typed(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"{{{name}:uuid}}" if fields[name].annotation is uuid.UUID else match.group(0)

    return _PATH_PARAM.sub(typed, path)


def _part_model(action: Action[Any, Any], names: list[str], suffix: str) -> type[BaseModel]:
    """The input model's fields `names` as a model of their own (the body or query of a route with path
    parameters); the whole input model when there are none, so its own validators and name stay."""
    fields = action.input.model_fields
    if len(names) == len(fields):
        return action.input
    spec: dict[str, Any] = {name: (fields[name].annotation, fields[name]) for name in names}
    return create_model(
        f"{action.input.__name__}{suffix}",
        __config__=ConfigDict(extra="forbid"),
        __doc__=action.input.__doc__,
        **spec,
    )


def _parameters(action: Action[Any, Any]) -> tuple[list[inspect.Parameter], list[str], list[str]]:
    """The endpoint's signature for FastAPI: request, actor, path parameters, then the query or body model."""
    assert action.http is not None
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        inspect.Parameter("actor", kw, annotation=Annotated[Actor, Depends(authorizer(action))]),
    ]
    fields = action.input.model_fields
    path_names = _PATH_PARAM.findall(action.http.path)
    for name in path_names:
        info = fields[name]
        params.append(
            inspect.Parameter(
                name, kw, annotation=Annotated[info.annotation, Path(description=info.description)]
            )
        )
    if action.idempotent:
        header = Header(
            alias="Idempotency-Key",
            max_length=200,
            pattern=r"^[\x21-\x7e]+$",
            description="retries with the same key replay the first response instead of running again",
        )
        params.append(
            inspect.Parameter("idempotency_key", kw, default=None, annotation=Annotated[str | None, header])
        )
    rest = [name for name in fields if name not in path_names]
    if action.http.method in _NO_BODY:
        query, body = rest, []
    else:
        query = [name for name in rest if name in action.http.query]
        body = [name for name in rest if name not in action.http.query]
    parts: list[str] = []
    if query:
        part = _part_model(action, query, "Query")
        params.append(inspect.Parameter("query", kw, annotation=Annotated[part, Query()]))
        parts.append("query")
    if body:
        part = _part_model(action, body, "Body")
        params.append(inspect.Parameter("body", kw, annotation=Annotated[part, Body()]))
        parts.append("body")
    return params, path_names, parts


def endpoint_for(action: Action[Any, Any]) -> Any:
    params, path_names, part_names = _parameters(action)
    status = action.http.status if action.http else 200

    async def endpoint(request: Request, **kwargs: Any) -> Response:
        actor: Actor = kwargs["actor"]
        data: dict[str, Any] = {name: kwargs[name] for name in path_names}
        for part_name in part_names:
            data.update(kwargs[part_name].model_dump(exclude_unset=True))
        result = await invoke(
            services_of(request),
            action,
            actor,
            data,
            request_id=request.state.request_id,
            # an action that does not take the header still sees it, so a retry is refused, not repeated
            idempotency_key=kwargs.get("idempotency_key", request.headers.get("idempotency-key")),
        )
        return Response(result.model_dump_json(), status_code=status, media_type="application/json")

    endpoint.__name__ = action.name.replace(".", "_")
    endpoint.__signature__ = inspect.Signature(params)  # what FastAPI reads the parameters from
    setattr(endpoint, "__action__", action)  # noqa: B010  (tests check that every route is an action's)
    return endpoint


def build_router(actions: Iterable[Action[Any, Any]]) -> APIRouter:
    router = APIRouter()
    for action in actions:
        if action.http is None:
            continue
        router.add_api_route(
            route_path(action.http.path, action.input),
            endpoint_for(action),
            methods=[action.http.method],
            status_code=action.http.status,
            response_model=action.output,
            name=action.name,
            operation_id=action.name.replace(".", "_"),
            summary=action.summary,
            description=(action.handler.__doc__ or "").strip() + f"\n\nScope: `{action.scope}`.",
            tags=[action.resource],
            responses=problem_responses(*_statuses(action)),
        )
    return router
