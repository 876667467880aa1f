"""Optimizer configs: a tenant's named optimizer set-ups (an optimizer and its constructor arguments),
kept for runs to reuse."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from dspy_ash.actions._context import ActionContext
from dspy_ash.actions._paging import page_of
from dspy_ash.actions._registry import Http, action
from dspy_ash.actions._runs import Optimizer
from dspy_ash.actions._schemas import Deleted, ListRequest, Page, Public, Request
from dspy_ash.store import repos
from dspy_ash.store.models import OptimizerConfig

MAX_CONFIG_KEYS = 100
MAX_CONFIG_CHARS = 64_000  # as JSON; a constructor's arguments, not a place for data


def _bounded(config: dict[str, Any]) -> dict[str, Any]:
    # the body limit bounds one request; this bounds what every run of the config reads back
    if len(json.dumps(config)) > MAX_CONFIG_CHARS:
        raise ValueError(f"at most {MAX_CONFIG_CHARS} characters as JSON")
    return config


Config = Annotated[
    dict[str, Any],
    Field(max_length=MAX_CONFIG_KEYS, description="the optimizer's constructor arguments"),
    AfterValidator(_bounded),
]


class OptimizerConfigCreate(Request):
    name: str = Field(min_length=1, max_length=200, examples=["few-shot"])
    optimizer: Optimizer = Field(examples=["BootstrapFewShot"])
    config: Config = Field(default_factory=dict, examples=[{"max_bootstrapped_demos": 2}])
    description: str = Field("", max_length=10_000)


class OptimizerConfigPublic(Public):
    id: uuid.UUID
    name: str
    optimizer: str
    config: dict[str, Any]
    description: str
    created_at: datetime
    updated_at: datetime


class OptimizerConfigList(ListRequest):
    optimizer: Optimizer | None = None
    name: str | None = Field(None, max_length=200)


class OptimizerConfigRef(Request):
    optimizer_config_id: uuid.UUID


class OptimizerConfigUpdate(Request):
    optimizer_config_id: uuid.UUID
    name: str | None = Field(None, min_length=1, max_length=200)
    optimizer: Optimizer | None = None
    config: Config | None = Field(None, description="replaces the arguments whole")
    description: str | None = Field(None, max_length=10_000)


@action("optimizer_configs.create", resource="optimizer_config", kind="create",
        scope="optimizer_configs:write", http=Http("POST", "/optimizer-configs", status=201),
        idempotent=True)  # fmt: skip
async def create_optimizer_config(
    ctx: ActionContext, request: OptimizerConfigCreate
) -> OptimizerConfigPublic:
    """Save an optimizer and its arguments under a name, for runs to reuse."""
    row = await repos.optimizer_configs.create_optimizer_config(
        ctx.session,
        tenant_id=ctx.tenant_id,
        actor=ctx.subject,
        name=request.name,
        optimizer=request.optimizer,
        config=request.config,
        description=request.description,
    )
    return OptimizerConfigPublic.model_validate(row)


@action("optimizer_configs.list", resource="optimizer_config", kind="list", scope="optimizer_configs:read",
        http=Http("GET", "/optimizer-configs"))  # fmt: skip
async def list_optimizer_configs(
    ctx: ActionContext, request: OptimizerConfigList
) -> Page[OptimizerConfigPublic]:
    """List optimizer configs."""
    equal = {"optimizer": request.optimizer, "name": request.name}
    return await page_of(
        ctx, OptimizerConfig, OptimizerConfigPublic, request, sorts=("created_at", "name"), equal=equal
    )


@action("optimizer_configs.get", resource="optimizer_config", kind="read", scope="optimizer_configs:read",
        http=Http("GET", "/optimizer-configs/{optimizer_config_id}"))  # fmt: skip
async def get_optimizer_config(ctx: ActionContext, request: OptimizerConfigRef) -> OptimizerConfigPublic:
    """Get an optimizer config."""
    row = await repos.optimizer_configs.get_optimizer_config(
        ctx.session, tenant_id=ctx.tenant_id, config_id=request.optimizer_config_id
    )
    return OptimizerConfigPublic.model_validate(row)


@action("optimizer_configs.update", resource="optimizer_config", kind="update",
        scope="optimizer_configs:write", http=Http("PATCH", "/optimizer-configs/{optimizer_config_id}"))  # fmt: skip
async def update_optimizer_config(
    ctx: ActionContext, request: OptimizerConfigUpdate
) -> OptimizerConfigPublic:
    """Change an optimizer config's name, optimizer, arguments (replaced whole) or description."""
    row = await repos.optimizer_configs.update_optimizer_config(
        ctx.session,
        tenant_id=ctx.tenant_id,
        actor=ctx.subject,
        config_id=request.optimizer_config_id,
        name=request.name,
        optimizer=request.optimizer,
        config=request.config,
        description=request.description,
    )
    return OptimizerConfigPublic.model_validate(row)


@action("optimizer_configs.delete", resource="optimizer_config", kind="destroy",
        scope="optimizer_configs:write", http=Http("DELETE", "/optimizer-configs/{optimizer_config_id}"))  # fmt: skip
async def delete_optimizer_config(ctx: ActionContext, request: OptimizerConfigRef) -> Deleted:
    """Delete an optimizer config."""
    await repos.optimizer_configs.delete_optimizer_config(
        ctx.session, tenant_id=ctx.tenant_id, actor=ctx.subject, config_id=request.optimizer_config_id
    )
    return Deleted(id=str(request.optimizer_config_id))
