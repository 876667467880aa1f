"""Optimizer configs: a tenant's named optimizer set-ups ("BootstrapFewShot" and its arguments), for runs."""

from __future__ import annotations

import re
import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._errors import ConflictError, InvalidValueError
from dspy_ash.store.models import OptimizerConfig
from dspy_ash.store.repos import audit
from dspy_ash.store.repos._base import get_owned, list_owned, snapshot

# A class name, optionally dotted ("BootstrapFewShot", "dspy.MIPROv2"); which ones exist is for the layer
# that runs them (the store knows no optimizer).
_OPTIMIZER = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _check(optimizer: str | None, config: dict[str, Any] | None) -> None:
    if optimizer is not None and not (len(optimizer) <= 200 and _OPTIMIZER.match(optimizer)):
        raise InvalidValueError("optimizer", f"{optimizer!r} is not an optimizer class name")
    if config is not None and not isinstance(config, dict):  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidValueError("config", "must be a JSON object")


async def create_optimizer_config(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    name: str,
    optimizer: str,
    config: dict[str, Any] | None = None,
    description: str = "",
) -> OptimizerConfig:
    _check(optimizer, config)
    row = OptimizerConfig(
        tenant_id=tenant_id, name=name, optimizer=optimizer, config=config or {}, description=description
    )
    return await audit.create_named(
        session, row, tenant_id=tenant_id, actor=actor, name=name, noun="optimizer config",
        resource=OptimizerConfig.__tablename__,
    )  # fmt: skip


async def get_optimizer_config(
    session: AsyncSession, *, tenant_id: uuid.UUID, config_id: uuid.UUID
) -> OptimizerConfig:
    return await get_owned(session, OptimizerConfig, tenant_id=tenant_id, id=config_id)


async def list_optimizer_configs(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[OptimizerConfig]:
    return await list_owned(session, OptimizerConfig, tenant_id=tenant_id, order_by=OptimizerConfig.name)


async def update_optimizer_config(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    config_id: uuid.UUID,
    name: str | None = None,
    optimizer: str | None = None,
    config: dict[str, Any] | None = None,
    description: str | None = None,
) -> OptimizerConfig:
    """Change what is given (None: keep). A name another config has is a ConflictError."""
    _check(optimizer, config)
    row = await get_owned(session, OptimizerConfig, tenant_id=tenant_id, id=config_id, for_update=True)
    before = snapshot(row)
    for attr, value in (
        ("name", name),
        ("optimizer", optimizer),
        ("config", config),
        ("description", description),
    ):
        if value is not None:
            setattr(row, attr, value)
    try:
        await audit.record(session, tenant_id=tenant_id, actor=actor, action="update", row=row, before=before)
    except IntegrityError as exc:
        raise ConflictError(
            f"an optimizer config named {name!r} exists", resource=OptimizerConfig.__tablename__
        ) from exc
    return row


async def delete_optimizer_config(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: str, config_id: uuid.UUID
) -> None:
    row = await get_owned(session, OptimizerConfig, tenant_id=tenant_id, id=config_id)
    await audit.delete(session, tenant_id=tenant_id, actor=actor, row=row)
