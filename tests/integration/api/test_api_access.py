"""Credentials end to end: dashboard sessions with CSRF, key expiry, revocation and rate limits,
Idempotency-Key replays, and the request id on every audit event."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from api_helpers import TenantKeys

from dspy_ash.actions import Services

PASSWORD = "correct horse battery staple"


async def _member(client: httpx.AsyncClient, tenant: TenantKeys, role: str = "editor") -> str:
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    response = await client.post(
        "/members", json={"email": email, "password": PASSWORD, "role": role}, headers=tenant.auth()
    )
    assert response.status_code == 201, response.text
    assert "password" not in response.text
    return email


async def test_session_cookie_needs_its_csrf_token_to_change_anything(
    client: httpx.AsyncClient, acme: TenantKeys
) -> None:
    email = await _member(client, acme)
    wrong = await client.post("/session", json={"email": email, "password": "not the password"})
    unknown = await client.post("/session", json={"email": "nobody@example.com", "password": PASSWORD})
    assert (
        wrong.status_code == unknown.status_code == 401 and wrong.json()["detail"] == unknown.json()["detail"]
    )
    login = await client.post("/session", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie
    csrf = login.json()["csrf_token"]
    assert login.json()["role"] == "editor"
    # the cookie is Secure, which httpx keeps for https only: send it by hand
    jar = {"Cookie": f"dspy_ash_session={login.cookies['dspy_ash_session']}"}
    client.cookies.clear()
    read = await client.get("/programs", headers=jar)
    assert read.status_code == 200
    forged = await client.post("/programs", json={"name": "x", "source": "a.b:C"}, headers=jar)
    assert forged.status_code == 403 and forged.json()["type"] == "urn:dspy-ash:problem:csrf"
    bad = await client.post(
        "/programs", json={"name": "x", "source": "a.b:C"}, headers={**jar, "X-CSRF-Token": "nope"}
    )
    assert bad.status_code == 403
    made = await client.post(
        "/programs", json={"name": "x", "source": "a.b:C"}, headers={**jar, "X-CSRF-Token": csrf}
    )
    assert made.status_code == 201
    trail = (
        await client.get("/audit-events", params={"resource_id": made.json()["id"]}, headers=acme.auth())
    ).json()
    assert trail["items"][0]["actor"].startswith("user:")
    out = await client.delete("/session", headers={**jar, "X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert (await client.get("/programs", headers=jar)).status_code == 401


async def test_members_cannot_lose_their_last_admin(client: httpx.AsyncClient, acme: TenantKeys) -> None:
    email = await _member(client, acme, role="admin")
    members = (await client.get("/members", headers=acme.auth())).json()["items"]
    [admin] = [m for m in members if m["email"] == email]
    demote = await client.patch(f"/members/{admin['user_id']}", json={"role": "viewer"}, headers=acme.auth())
    assert demote.status_code == 409
    again = await client.post("/members", json={"email": email, "password": PASSWORD}, headers=acme.auth())
    assert again.status_code == 409  # nobody sets the password of an existing account


async def test_expired_and_revoked_keys_answer_401(client: httpx.AsyncClient, acme: TenantKeys) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    refused = await client.post("/api-keys", json={"name": "old", "expires_at": past}, headers=acme.auth())
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "expires_at"
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    expired = (await client.post("/api-keys", json={"name": "brief", "role": "admin", "expires_at": soon},
                                 headers=acme.auth())).json()  # fmt: skip
    await asyncio.sleep(1.2)
    assert (
        await client.get("/tenant", headers={"Authorization": f"Bearer {expired['key']}"})
    ).status_code == 401
    live = (
        await client.post("/api-keys", json={"name": "live", "role": "viewer"}, headers=acme.auth())
    ).json()
    bearer = {"Authorization": f"Bearer {live['key']}"}
    assert (await client.get("/tenant", headers=bearer)).status_code == 200
    await client.post(f"/api-keys/{live['id']}/revoke", headers=acme.auth())
    refused = await client.get("/tenant", headers=bearer)
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    listed = (await client.get("/api-keys", headers=acme.auth())).json()["items"]
    assert all("key" not in k for k in listed) and live["key"] not in str(listed)


async def test_a_keys_own_rate_limit_answers_429_with_retry_after(
    client: httpx.AsyncClient, acme: TenantKeys
) -> None:
    key = (await client.post("/api-keys", json={"name": "slow", "role": "viewer", "rate_limit_per_minute": 3},
                             headers=acme.auth())).json()  # fmt: skip
    bearer = {"Authorization": f"Bearer {key['key']}"}
    statuses = [(await client.get("/tenant", headers=bearer)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = await client.get("/tenant", headers=bearer)
    assert (
        int(limited.headers["retry-after"]) >= 1
        and limited.json()["type"] == "urn:dspy-ash:problem:rate-limited"
    )
    assert (await client.get("/tenant", headers=acme.auth())).status_code == 200  # other keys are unaffected


async def test_idempotency_key_replays_and_refuses_reuse(client: httpx.AsyncClient, acme: TenantKeys) -> None:
    headers = {**acme.auth("editor"), "Idempotency-Key": "create-qa-1"}
    body = {"name": "qa", "source": "a.b:C"}
    first = await client.post("/programs", json=body, headers=headers)
    second = await client.post("/programs", json=body, headers=headers)
    assert first.status_code == second.status_code == 201, second.text
    assert first.json() == second.json()
    listed = (await client.get("/programs", headers=acme.auth())).json()["items"]
    assert len(listed) == 1
    other = await client.post("/programs", json={"name": "qa2", "source": "a.b:C"}, headers=headers)
    assert other.status_code == 409
    not_taken = await client.post(
        "/api-keys", json={"name": "k"}, headers={**acme.auth(), "Idempotency-Key": "k"}
    )
    assert not_taken.status_code == 422


async def test_concurrent_retries_with_one_key_create_once(
    client: httpx.AsyncClient, acme: TenantKeys, services: Services
) -> None:
    if services.db.dialect == "sqlite":
        pytest.skip("SQLite serialises writers: the race needs concurrent transactions (PostgreSQL)")
    headers = {**acme.auth("editor"), "Idempotency-Key": "race"}
    results = await asyncio.gather(
        *(
            client.post("/programs", json={"name": "race", "source": "a.b:C"}, headers=headers)
            for _ in range(5)
        )
    )
    assert {r.status_code for r in results} <= {201, 409}
    assert len((await client.get("/programs", headers=acme.auth())).json()["items"]) == 1


async def test_every_audit_event_names_its_request(client: httpx.AsyncClient, acme: TenantKeys) -> None:
    made = await client.post(
        "/programs",
        json={"name": "rid", "source": "a.b:C"},
        headers={**acme.auth(), "X-Request-ID": "req-42"},
    )
    assert made.headers["x-request-id"] == "req-42"
    hostile = await client.get("/tenant", headers={**acme.auth(), "X-Request-ID": "a\\nb" * 40})
    assert hostile.headers["x-request-id"] != "a\\nb" * 40  # not echoed: too long and not plain
    trail = (
        await client.get("/audit-events", params={"resource_id": made.json()["id"]}, headers=acme.auth())
    ).json()
    assert trail["items"][0]["request_id"] == "req-42"


async def test_a_key_revoked_elsewhere_stops_within_the_cache_time(
    client: httpx.AsyncClient, services: Services, acme: TenantKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process revokes the key (here: straight in the store): this one trusts it no longer than
    KEY_CACHE_SECONDS after it last asked the database."""
    from dspy_ash.actions import _auth
    from dspy_ash.store import repos

    monkeypatch.setattr(_auth, "KEY_CACHE_SECONDS", 0.5)
    made = (await client.post("/api-keys", json={"name": "elsewhere"}, headers=acme.auth())).json()
    bearer = {"Authorization": f"Bearer {made['key']}"}
    assert (await client.get("/tenant", headers=bearer)).status_code == 200
    async with services.db.transaction() as s:
        await repos.api_keys.revoke_api_key(
            s, tenant_id=acme.tenant_id, actor="other", key_id=uuid.UUID(made["id"])
        )
    assert (await client.get("/tenant", headers=bearer)).status_code == 200  # still trusted, for a moment
    await asyncio.sleep(0.6)
    assert (await client.get("/tenant", headers=bearer)).status_code == 401
