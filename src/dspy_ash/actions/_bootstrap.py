"""Setting up a new service: its schema, its first tenant and that tenant's first admin key
(`dspy-ash init`). Before it there is no actor to act as, so this is not an action of the registry."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.actions._errors import AlreadyInitialisedError
from dspy_ash.store import Database, repos
from dspy_ash.store import _migrate as migrate
from dspy_ash.store.models import Tenant

INIT_ACTOR = "cli:init"  # who the audit trail says created the first tenant and key
DEFAULT_TENANT = "default"
ADMIN_KEY_NAME = "admin (dspy-ash init)"


@dataclass(frozen=True, slots=True)
class Initialised:
    """What `initialise` found or made. `key` is the new admin key's secret, or None when none was made."""

    tenant_id: uuid.UUID
    tenant_name: str
    created: bool  # the tenant is new (False: the service was already initialised)
    revision: str | None  # the schema's migration revision afterwards
    key: str | None = None
    key_id: uuid.UUID | None = None


async def initialise(
    database_url: str | None = None,
    *,
    tenant_name: str | None = None,
    new_key: bool = False,
    admin_email: str | None = None,
    admin_password: str | None = None,
) -> Initialised:
    """Bring the schema to the newest migration; then, if the database has no tenant yet, create the
    first one (`tenant_name`, else "default") with an admin API key and, given `admin_email` and
    `admin_password`, an admin user for the dashboard. Run again, it changes nothing and makes no key
    unless `new_key` (a fresh admin key for `tenant_name`, else the first tenant)."""
    revision = await migrate.upgrade(database_url)
    db = Database(database_url)
    try:
        async with db.transaction() as session:
            existing = await _existing_tenant(session, tenant_name)
            if existing is None:
                tenant = await repos.tenants.create_tenant(
                    session, name=tenant_name or DEFAULT_TENANT, actor=INIT_ACTOR
                )
                if admin_email is not None and admin_password is not None:
                    await _admin_user(session, tenant.id, admin_email, admin_password)
            else:
                tenant = existing
            if existing is not None and not new_key:
                return Initialised(tenant.id, tenant.name, created=False, revision=revision)
            row, token = await repos.api_keys.create_api_key(
                session, tenant_id=tenant.id, actor=INIT_ACTOR, name=ADMIN_KEY_NAME, role="admin"
            )
            await session.flush()
            return Initialised(
                tenant.id, tenant.name, created=existing is None, revision=revision, key=token, key_id=row.id
            )
    finally:
        await db.dispose()


async def _existing_tenant(session: AsyncSession, name: str | None) -> Tenant | None:
    """The tenant named `name` if given; else the first tenant made. With a name that no tenant has but
    other tenants existing, the service is initialised already: that is refused rather than guessed."""
    if name is not None:
        found = await repos.tenants.find_tenant(session, name=name)
        if found is not None:
            return found
    first = (await session.execute(select(Tenant).order_by(Tenant.created_at).limit(1))).scalar_one_or_none()
    if first is not None and name is not None:
        raise AlreadyInitialisedError(first.name, name)
    return first


async def _admin_user(session: AsyncSession, tenant_id: uuid.UUID, email: str, password: str) -> None:
    user = await repos.users.create_user(
        session, tenant_id=tenant_id, actor=INIT_ACTOR, email=email, password=password
    )
    await repos.memberships.add_member(
        session, tenant_id=tenant_id, actor=INIT_ACTOR, user_id=user.id, role="admin"
    )
