"""The authorization matrix, generated from the action registry and the scope table: every routed action,
called by each role, by nobody, and by another tenant's admin with this tenant's ids.

The expected outcome comes from the policy, so a new action cannot be forgotten: it needs a case in a
`cases_<area>.py` module, or `test_every_routed_action_has_a_case` fails.
"""

from __future__ import annotations

import importlib
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import Call, Case, TenantKeys, World, make_tenant
from sqlalchemy import func, select

from dspy_ash.actions import REGISTRY, ROLES, Action, Services, allows
from dspy_ash.store.models import AuditEvent


def _cases() -> dict[str, Case]:
    cases: dict[str, Case] = {}
    for path in sorted(Path(__file__).parent.glob("cases_*.py")):
        module = importlib.import_module(path.stem)
        overlap = cases.keys() & module.CASES.keys()
        assert not overlap, f"{path.name} repeats cases for {sorted(overlap)}"
        cases.update(module.CASES)
    return cases


CASES = _cases()
ROUTED = sorted(name for name, action in REGISTRY.items() if action.http is not None)
CALLERS = [*ROLES, "anonymous", "other_tenant"]


def test_every_routed_action_has_a_case() -> None:
    assert sorted(CASES) == ROUTED


async def _audit_count(services: Services, tenant_id: uuid.UUID) -> int:
    async with services.db.transaction() as s:
        stmt = select(func.count()).select_from(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
        return int((await s.execute(stmt)).scalar_one())


def _expected(action: Action[Any, Any], caller: str) -> int | str:
    if caller == "anonymous":
        return 401
    if caller == "other_tenant":
        # the other tenant's admin holds every scope; what it must not do is reach this tenant's rows
        return 404 if "{" in (action.http.path if action.http else "") else "2xx"
    return "2xx" if allows(caller, action.scope) else 403


async def _send(client: httpx.AsyncClient, call: Call, headers: dict[str, str]) -> httpx.Response:
    return await client.request(call.method, call.path, json=call.json, params=call.params, headers=headers)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("name", ROUTED)
async def test_matrix(
    name: str,
    caller: str,
    client: httpx.AsyncClient,
    services: Services,
    acme: TenantKeys,
    globex: TenantKeys,
) -> None:
    action = REGISTRY[name]
    call = await CASES[name](World(client=client, tenant=acme, services=services))
    headers = (
        {}
        if caller == "anonymous"
        else (globex if caller == "other_tenant" else acme).auth(
            "admin" if caller == "other_tenant" else caller
        )
    )
    before = await _audit_count(services, acme.tenant_id)
    response = await _send(client, call, headers)
    expected = _expected(action, caller)
    if expected == "2xx":
        assert 200 <= response.status_code < 300, response.text
    else:
        assert response.status_code == expected, response.text
        assert response.headers["content-type"] == "application/problem+json"
    after = await _audit_count(services, acme.tenant_id)
    if caller in ROLES and expected == "2xx" and action.changes:
        assert after > before, f"{name} changed something without an audit event"
    else:
        assert after == before, f"{name} by {caller} changed this tenant's rows"
    if caller == "other_tenant":
        # nothing of this tenant's shows in what the other tenant gets back
        assert str(acme.tenant_id) not in response.text


async def test_another_tenants_key_does_not_see_its_rows(
    client: httpx.AsyncClient, services: Services, acme: TenantKeys
) -> None:
    world = World(client=client, tenant=acme, services=services)
    created = await world.post("/programs", {"name": "mine", "source": "a.b:C"})
    stranger = await make_tenant(services)
    listed = await client.get("/programs", headers=stranger.auth("viewer"))
    assert created["id"] not in listed.text
