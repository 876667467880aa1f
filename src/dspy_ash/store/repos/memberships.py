"""Memberships: which users belong to a tenant, and with which role (the roles of API keys).

A user is identified by `user_id`; `membership` rows are the tenant's, so changing or removing one
given a user who is not a member here is "not found", as for a user who exists nowhere.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._errors import ConflictError, InvalidValueError, NotFoundError
from dspy_ash.store.models import ROLES, Membership, Tenant
from dspy_ash.store.repos import audit
from dspy_ash.store.repos._base import snapshot
from dspy_ash.store.repos.users import get_user


@dataclass(frozen=True, slots=True)
class TenantMembership:
    """One tenant a user belongs to, as a tenant picker shows it."""

    tenant_id: uuid.UUID
    tenant_name: str
    role: str
    membership_id: uuid.UUID


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidValueError("role", f"must be one of {ROLES}, not {role!r}")


async def add_member(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: str, user_id: uuid.UUID, role: str
) -> Membership:
    """Make an existing account (any, since accounts are global) a member of the tenant. ConflictError if
    it is one already; NotFoundError if there is no such account."""
    _check_role(role)
    await get_user(session, user_id=user_id)
    membership = Membership(tenant_id=tenant_id, user_id=user_id, role=role)
    session.add(membership)
    try:
        await audit.record(session, tenant_id=tenant_id, actor=actor, action="create", row=membership)
    except IntegrityError as exc:
        raise ConflictError(f"user {user_id} is a member already", resource="membership") from exc
    return membership


async def set_role(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: str, user_id: uuid.UUID, role: str
) -> Membership:
    _check_role(role)
    membership = await _get(session, tenant_id, user_id, for_update=True)
    before = snapshot(membership)
    membership.role = role
    await audit.record(
        session, tenant_id=tenant_id, actor=actor, action="update", row=membership, before=before
    )
    return membership


async def remove_member(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: str, user_id: uuid.UUID
) -> None:
    """The account stays (it may belong to other tenants); its sessions in this tenant stop authenticating."""
    membership = await _get(session, tenant_id, user_id, for_update=True)
    await audit.delete(session, tenant_id=tenant_id, actor=actor, row=membership)


async def get_membership(
    session: AsyncSession, *, tenant_id: uuid.UUID, user_id: uuid.UUID
) -> Membership | None:
    stmt = select(Membership).where(Membership.tenant_id == tenant_id, Membership.user_id == user_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def list_members(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[Membership]:
    stmt = select(Membership).where(Membership.tenant_id == tenant_id).order_by(Membership.created_at)
    return list((await session.execute(stmt)).scalars())


async def list_tenants_of_user(session: AsyncSession, *, user_id: uuid.UUID) -> list[TenantMembership]:
    """Every tenant the user belongs to, by name (across tenants on purpose: it is the user's own list)."""
    stmt = (
        select(Tenant.id, Tenant.name, Membership.role, Membership.id)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == user_id)
        .order_by(Tenant.name)
    )
    return [TenantMembership(*row) for row in (await session.execute(stmt)).tuples()]


async def _get(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, *, for_update: bool = False
) -> Membership:
    stmt = select(Membership).where(Membership.tenant_id == tenant_id, Membership.user_id == user_id)
    if for_update:
        stmt = stmt.with_for_update()
    membership = (await session.execute(stmt)).scalar_one_or_none()
    if membership is None:
        raise NotFoundError(Membership.__tablename__, user_id)
    return membership
