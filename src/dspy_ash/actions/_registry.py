"""The action registry: every operation of the service declared once, with its policy and its types.

    @action("programs.create", resource="program", kind="create", scope="programs:write",
            http=Http("POST", "/programs", status=201))
    async def create_program(ctx: ActionContext, request: ProgramCreate) -> ProgramPublic:
        ...

The input and output models are read from the function's annotations. REST routes, GraphQL fields and
CLI commands are derived from (or written thinly over) `REGISTRY`; they call actions only through
`invoke`, which checks the policy, opens the transaction and validates the input.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, get_type_hints

from pydantic import BaseModel

from dspy_ash.actions._context import ActionContext
from dspy_ash.actions._policy import SCOPES

Kind = Literal["read", "list", "create", "update", "destroy", "action"]
Method = Literal["GET", "POST", "PATCH", "PUT", "DELETE"]
In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)
Handler = Callable[[ActionContext, Any], Awaitable[Any]]

_CHANGES: frozenset[Kind] = frozenset({"create", "update", "destroy", "action"})


@dataclass(frozen=True, slots=True)
class Http:
    """Where REST serves an action. Path parameters (`{program_id}`) are fields of the input model; so are
    `query` ones, which travel in the query string even when the method has a body (`?version=`)."""

    method: Method
    path: str
    status: int = 200
    query: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Action(Generic[In, Out]):
    name: str  # "programs.create": resource plural, dot, verb
    resource: str  # the table it acts on: "program"
    kind: Kind
    scope: str  # a key of policy.SCOPES
    input: type[In]
    output: type[Out]
    handler: Callable[[ActionContext, In], Awaitable[Out]]
    http: Http | None
    audited: bool  # writes audit events (tests check that it does)
    idempotent: bool  # accepts an Idempotency-Key
    transactional: bool  # `invoke` wraps it in one transaction (else it opens its own)
    summary: str

    @property
    def changes(self) -> bool:
        return self.kind in _CHANGES and self.audited


REGISTRY: dict[str, Action[Any, Any]] = {}


def action(
    name: str,
    *,
    resource: str,
    kind: Kind,
    scope: str,
    http: Http | None = None,
    audited: bool | None = None,
    idempotent: bool = False,
    transactional: bool = True,
) -> Callable[[Handler], Handler]:
    """Declare `fn(ctx, request) -> result` as the action `name`. `audited` defaults to whether the kind
    changes something (create, update, destroy, or a generic action)."""
    if scope not in SCOPES:
        raise ValueError(f"action {name}: scope {scope!r} is not in the policy table")

    def register(fn: Handler) -> Handler:
        if name in REGISTRY:
            raise ValueError(f"action {name} is declared twice")
        hints = get_type_hints(fn)
        request_type, result_type = hints["request"], hints["return"]
        REGISTRY[name] = Action(
            name=name,
            resource=resource,
            kind=kind,
            scope=scope,
            input=request_type,
            output=result_type,
            handler=fn,
            http=http,
            audited=kind in _CHANGES if audited is None else audited,
            idempotent=idempotent,
            transactional=transactional,
            summary=(fn.__doc__ or name).strip().splitlines()[0],
        )
        return fn

    return register
