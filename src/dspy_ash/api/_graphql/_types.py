"""GraphQL object types, each mirroring an action's output model field for field (`@mirrors`), with
relationships as resolvers that go through the request's DataLoaders.

To add a resource: a `@mirrors(XPublic) @strawberry.type(name="X")` class with the model's fields
(a test checks that the names match, so the two cannot drift), its relations as resolvers over a loader,
and its root fields in _schema.py; a list action becomes a connection with `connection_of(page, X.of)`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from pydantic import BaseModel
from strawberry.scalars import JSON
from strawberry.types.base import get_object_definition

from dspy_ash.actions import FieldProblem, InvalidRequestError
from dspy_ash.actions._batches import RunProgress
from dspy_ash.actions._datasets import DatasetPublic
from dspy_ash.actions._metric_definitions import MetricPublic
from dspy_ash.actions._optimizer_configs import OptimizerConfigPublic
from dspy_ash.actions._programs import ProgramPublic
from dspy_ash.actions._runs import EvaluationRunPublic, OptimizerRunPublic
from dspy_ash.actions._schemas import Deleted as DeletedPublic
from dspy_ash.actions._tenancy import ApiKeyCreated, ApiKeyPublic, AuditEventPublic, TenantPublic
from dspy_ash.actions._versions import VersionDetail
from dspy_ash.api._graphql._connections import Connection, connection
from dspy_ash.api._graphql._context import GraphQLContext
from dspy_ash.api._graphql._errors import graphql_error

S = TypeVar("S")
Info = strawberry.Info[GraphQLContext, None]

# GraphQL type -> (the action output it mirrors, that model's fields it leaves to resolvers)
MIRRORS: dict[type, tuple[type[BaseModel], frozenset[str]]] = {}


def mirrors(public: type[BaseModel], *, without: tuple[str, ...] = ()) -> Callable[[type[S]], type[S]]:
    def register(cls: type[S]) -> type[S]:
        MIRRORS[cls] = (public, frozenset(without))
        return cls

    return register


@functools.cache
def plain_fields(cls: type) -> tuple[str, ...]:
    """The fields of a strawberry type that hold data (not resolvers), by their Python names."""
    definition = get_object_definition(cls, strict=True)
    return tuple(f.python_name for f in definition.fields if f.base_resolver is None)


def mirror(cls: type[S], public: BaseModel) -> S:
    """`public` (an action's output) as the GraphQL type `cls`; fields it lacks keep their defaults."""
    values = {name: getattr(public, name) for name in plain_fields(cls) if hasattr(public, name)}
    return cls(**values)


def _version_cursor(number: int) -> str:
    return base64.urlsafe_b64encode(f"version:{number}".encode()).decode().rstrip("=")


def _after_number(after: str | None) -> int | None:
    if after is None:
        return None
    try:
        kind, number = base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)).decode().split(":")
        if kind != "version":
            raise ValueError(kind)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        problem = FieldProblem("after", "not a cursor of this connection")
        raise graphql_error(InvalidRequestError("the cursor is malformed", [problem])) from None


@mirrors(ProgramPublic, without=("versions",))
@strawberry.type(name="Program", description="A code or declarative DSPy program.")
class ProgramNode:
    id: uuid.UUID
    name: str
    kind: str
    source: str | None
    spec: JSON | None
    description: str
    serving_version_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime

    @strawberry.field(description="The program's versions by number (one batched query for a page).")
    async def versions(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[VersionNode]:
        group = await info.context.loaders.versions.load((self.id, first, _after_number(after)))
        nodes = [mirror(VersionNode, v) for v in group.items]
        end = _version_cursor(group.items[-1].number) if group.items else None
        return connection(nodes, end, has_next_page=group.has_more)


@mirrors(VersionDetail)
@strawberry.type(name="ProgramVersion", description="An immutable saved state of a program.")
class VersionNode:
    id: uuid.UUID
    program_id: uuid.UUID
    number: int
    parent_id: uuid.UUID | None
    optimizer_run_id: uuid.UUID | None
    dataset_id: uuid.UUID | None
    metric: str | None
    score: float | None
    scores: JSON
    content_hash: str
    note: str
    created_at: datetime
    state: JSON | None = strawberry.field(
        default=None, description="DSPy's saved JSON; only on `version` and `importVersion`, not in lists"
    )

    @strawberry.field(description="The program this version belongs to.")
    async def program(self, info: Info) -> ProgramNode | None:
        found = await info.context.loaders.programs.load(self.program_id)
        return None if found is None else mirror(ProgramNode, found)


@mirrors(ApiKeyPublic)
@strawberry.type(name="ApiKey", description="An API key (never its secret).")
class ApiKeyNode:
    id: uuid.UUID
    name: str
    display: str
    role: str
    expires_at: datetime | None
    rate_limit_per_minute: int | None
    created_by: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@mirrors(ApiKeyCreated)
@strawberry.type(name="ApiKeyCreated", description="A new API key, with its secret shown this once.")
class ApiKeyCreatedNode(ApiKeyNode):
    key: str


@mirrors(AuditEventPublic)
@strawberry.type(name="AuditEvent")
class AuditEventNode:
    id: uuid.UUID
    actor: str
    action: str
    resource_type: str
    resource_id: uuid.UUID
    before: JSON | None
    after: JSON | None
    request_id: str | None
    created_at: datetime


@mirrors(TenantPublic)
@strawberry.type(name="Tenant")
class TenantNode:
    id: uuid.UUID
    name: str
    created_at: datetime


@mirrors(DeletedPublic)
@strawberry.type(name="Deleted")
class DeletedNode:
    id: str
    deleted: bool


@mirrors(RunProgress)
@strawberry.type(name="RunProgress", description="A run's state as its subscription reports it.")
class RunProgressNode:
    id: uuid.UUID
    kind: str
    status: str
    progress: float
    message: str
    score: float | None
    error: str | None
    terminal: bool
    updated_at: datetime


def of(cls: type[S]) -> Callable[[Any], S]:
    """`mirror` as a one-argument function, for `connection_of(page, of(X))`."""
    return functools.partial(mirror, cls)


@strawberry.interface(name="Run", description="What optimizer and evaluation runs have in common.")
class RunNode:
    id: uuid.UUID
    program_id: uuid.UUID
    dataset_id: uuid.UUID | None
    dataset_hash: str | None
    status: str
    config: JSON
    metric: str | None
    progress: float
    progress_message: str
    trials: JSON
    score: float | None
    error: str | None
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime
    updated_at: datetime


@mirrors(OptimizerRunPublic)
@strawberry.type(
    name="OptimizerRun", description="A compile: queued, running, then succeeded, failed or cancelled."
)
class OptimizerRunNode(RunNode):
    optimizer: str
    base_version_id: uuid.UUID | None
    result_version_id: uuid.UUID | None


@mirrors(EvaluationRunPublic)
@strawberry.type(name="EvaluationRun", description="An evaluation of a program (or a version) on a dataset.")
class EvaluationRunNode(RunNode):
    version_id: uuid.UUID | None
    split: str | None


@mirrors(DatasetPublic)
@strawberry.type(name="Dataset")
class DatasetNode:
    id: uuid.UUID
    name: str
    description: str
    input_keys: list[str]
    size: int
    content_hash: str
    source: str | None
    created_at: datetime
    updated_at: datetime


@mirrors(MetricPublic)
@strawberry.type(name="MetricDefinition", description="A tenant's metric: a builtin by name, or LM-judged.")
class MetricNode:
    id: uuid.UUID
    name: str
    kind: str
    config: JSON
    description: str
    created_at: datetime
    updated_at: datetime


@mirrors(OptimizerConfigPublic)
@strawberry.type(name="OptimizerConfig", description="A saved optimizer with its arguments.")
class OptimizerConfigNode:
    id: uuid.UUID
    name: str
    optimizer: str
    config: JSON
    description: str
    created_at: datetime
    updated_at: datetime
