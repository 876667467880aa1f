"""Tenants: the unit of isolation. Every other row belongs to exactly one."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._errors import NotFoundError
from dspy_ash.store.models import Tenant
from dspy_ash.store.repos import audit


async def create_tenant(session: AsyncSession, *, name: str, actor: str) -> Tenant:
    tenant_id = uuid.uuid4()
    tenant = Tenant(id=tenant_id, tenant_id=tenant_id, name=name)
    await audit.create_named(session, tenant, tenant_id=tenant_id, actor=actor, name=name, noun="tenant")
    return tenant


async def get_tenant(session: AsyncSession, *, tenant_id: uuid.UUID) -> Tenant:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFoundError("tenant", tenant_id)
    return tenant


async def find_tenant(session: AsyncSession, *, name: str) -> Tenant | None:
    """Look a tenant up by name (for `dspy-ash init` and admin tools, which act across tenants)."""
    return (await session.execute(select(Tenant).where(Tenant.name == name))).scalar_one_or_none()
