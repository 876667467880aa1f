"""Metric definitions: a tenant's named metrics for evaluations and optimizer runs.

A `builtin` metric names one of the engine's metrics; an `lm_judge` one asks an LM of one of the
tenant's providers for a score. A judge references its provider by id only, so a response never holds
anything of the provider's secret.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, JsonValue, field_validator, model_validator

from dspy_ash.actions._context import ActionContext
from dspy_ash.actions._errors import FieldProblem, InvalidRequestError
from dspy_ash.actions._paging import page_of
from dspy_ash.actions._registry import Http, action
from dspy_ash.actions._schemas import Deleted, ListRequest, Page, Public, Request
from dspy_ash.store import NotFoundError, repos
from dspy_ash.store.models import MetricDefinition
from dspy_ash.store.repos.metrics import BUILTIN_METRICS

MetricKind = Literal["builtin", "lm_judge"]
_BUILTINS = sorted(BUILTIN_METRICS)
_ENUM: dict[str, JsonValue] = {"enum": list[JsonValue](_BUILTINS)}


class BuiltinConfig(Request):
    # the store's table is the one list of names; the schema shows it as an enum
    name: str = Field(max_length=100, json_schema_extra=_ENUM, examples=["answer_exact_match"])

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in BUILTIN_METRICS:
            raise ValueError(f"must be one of {_BUILTINS}")
        return name


class LMJudgeConfig(Request):
    provider_id: uuid.UUID = Field(description="one of the tenant's providers")
    model: str = Field(min_length=1, max_length=200, pattern=r"\S", examples=["gpt-4o-mini"])
    instructions: str = Field(max_length=20_000, description="what the judge is asked")
    output_field: str = Field(
        max_length=100, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="the field its verdict is read from"
    )


class MetricCreate(Request):
    name: str = Field(min_length=1, max_length=200, examples=["exact"])
    kind: MetricKind
    config: BuiltinConfig | LMJudgeConfig = Field(
        description="builtin: `{name}`; lm_judge: `{provider_id, model, instructions, output_field}`"
    )
    description: str = Field("", max_length=10_000)

    @model_validator(mode="after")
    def _config_of_its_kind(self) -> MetricCreate:
        if isinstance(self.config, BuiltinConfig) != (self.kind == "builtin"):
            raise ValueError(f"the config is not a {self.kind} metric's")
        return self


class MetricPublic(Public):
    id: uuid.UUID
    name: str
    kind: MetricKind
    config: dict[str, Any]
    description: str
    created_at: datetime
    updated_at: datetime


class MetricList(ListRequest):
    kind: MetricKind | None = None
    name: str | None = Field(None, max_length=200)


class MetricRef(Request):
    metric_id: uuid.UUID


@action("metrics.create", resource="metric_definition", kind="create", scope="metrics:write",
        http=Http("POST", "/metrics", status=201), idempotent=True)  # fmt: skip
async def create_metric(ctx: ActionContext, request: MetricCreate) -> MetricPublic:
    """Define a metric: one of the engine's (`builtin`) or an LM judge over one of the tenant's providers."""
    try:
        row = await repos.metrics.create_metric(
            ctx.session,
            tenant_id=ctx.tenant_id,
            actor=ctx.subject,
            name=request.name,
            kind=request.kind,
            config=request.config.model_dump(mode="json"),
            description=request.description,
        )
    except NotFoundError as exc:
        # the only id the body names: a 422 on its field, as POST /metrics has no resource to be missing
        problem = FieldProblem("body.config.provider_id", "no provider of this tenant has this id")
        raise InvalidRequestError(str(exc), [problem]) from None
    return MetricPublic.model_validate(row)


@action("metrics.list", resource="metric_definition", kind="list", scope="metrics:read",
        http=Http("GET", "/metrics"))  # fmt: skip
async def list_metrics(ctx: ActionContext, request: MetricList) -> Page[MetricPublic]:
    """List metric definitions."""
    equal = {"kind": request.kind, "name": request.name}
    return await page_of(
        ctx, MetricDefinition, MetricPublic, request, sorts=("created_at", "name"), equal=equal
    )


@action("metrics.get", resource="metric_definition", kind="read", scope="metrics:read",
        http=Http("GET", "/metrics/{metric_id}"))  # fmt: skip
async def get_metric(ctx: ActionContext, request: MetricRef) -> MetricPublic:
    """Get a metric definition."""
    row = await repos.metrics.get_metric(ctx.session, tenant_id=ctx.tenant_id, metric_id=request.metric_id)
    return MetricPublic.model_validate(row)


@action("metrics.delete", resource="metric_definition", kind="destroy", scope="metrics:write",
        http=Http("DELETE", "/metrics/{metric_id}"))  # fmt: skip
async def delete_metric(ctx: ActionContext, request: MetricRef) -> Deleted:
    """Delete a metric definition."""
    await repos.metrics.delete_metric(
        ctx.session, tenant_id=ctx.tenant_id, actor=ctx.subject, metric_id=request.metric_id
    )
    return Deleted(id=str(request.metric_id))
