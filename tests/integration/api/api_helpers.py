"""Shared by the API tests: a tenant with one key per role, and bearer headers."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from dspy_ash.actions import ROLES, Services
from dspy_ash.store import repos


@dataclass(frozen=True)
class TenantKeys:
    tenant_id: uuid.UUID
    keys: dict[str, str]  # role -> plaintext key

    def auth(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


async def make_tenant(services: Services) -> TenantKeys:
    async with services.db.transaction() as s:
        tenant = await repos.tenants.create_tenant(s, name=f"t-{uuid.uuid4().hex[:12]}", actor="test")
        keys: dict[str, str] = {}
        for role in ROLES:
            _, token = await repos.api_keys.create_api_key(
                s, tenant_id=tenant.id, actor="test", name=role, role=role
            )
            keys[role] = token
    return TenantKeys(tenant_id=tenant.id, keys=keys)


@dataclass(frozen=True)
class Call:
    """One HTTP call of an action, as the authorization matrix makes it with each caller's key."""

    method: str
    path: str  # under /api/v1
    json: Any = None
    params: dict[str, Any] | None = None


@dataclass(frozen=True)
class World:
    """What a matrix case may use to create the resources its call needs (as the tenant's admin)."""

    client: httpx.AsyncClient
    tenant: TenantKeys
    services: Services

    async def post(self, path: str, json: Any, status: int = 201) -> dict[str, Any]:
        response = await self.client.post(path, json=json, headers=self.tenant.auth("admin"))
        assert response.status_code == status, response.text
        return response.json()


# A case builds, in a fresh tenant, what one action's call needs and returns that call. Every action with
# an HTTP route must have exactly one, in a `cases_<area>.py` module's CASES (test_api_authorization.py).
Case = Callable[[World], Awaitable[Call]]
