"""Shared by the API tests: a tenant with one key per role, and bearer headers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

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
