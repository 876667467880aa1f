"""The dashboard in-process: login and logout, every page for an admin, the admin pages refused to a
viewer (and not linked for it), redirects without a session, the security headers, CSRF on every POST,
and another tenant's ids as 404 pages."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from api_helpers import TenantKeys
from dashboard_helpers import NEW_INSTRUCTIONS, PASSWORD, Seeded, add_member, admin_of, seed_program

from dspy_ash.actions import Services, ServiceSettings, invoke
from dspy_ash.api import create_app

ADMIN_PAGES = ("/dashboard/admin/providers", "/dashboard/admin/members", "/dashboard/admin/keys",
               "/dashboard/admin/audit")  # fmt: skip


@pytest.fixture
def settings() -> ServiceSettings:  # plain-HTTP test client: cookies without Secure
    return ServiceSettings(max_body_bytes=64 * 1024, rate_limit_per_minute=10_000, secure_cookies=False)


@pytest.fixture
async def web(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(services=services), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
async def seeded(services: Services, acme: TenantKeys) -> Seeded:
    return await seed_program(services, acme.tenant_id)


async def log_in(web: httpx.AsyncClient, services: Services, tenant: TenantKeys, role: str) -> str:
    """Log a new member with `role` in through the form; returns the page's CSRF token."""
    email = await add_member(services, tenant.tenant_id, role)
    response = await web.post("/dashboard/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/dashboard/programs"
    return web.cookies["dspy_ash_csrf"]


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "the page has no form with the CSRF token"
    return found.group(1)


async def test_without_a_session_every_page_redirects_to_the_login_form(
    web: httpx.AsyncClient, seeded: Seeded
) -> None:
    for path in ("/dashboard/programs", f"/dashboard/programs/{seeded.program_id}", "/dashboard/runs",
                 f"/dashboard/traces/{seeded.trace_id}", "/dashboard/admin/audit"):  # fmt: skip
        response = await web.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/dashboard/login?next=%2Fdashboard%2F")
    fragment = await web.get(f"/dashboard/runs/optimizer/{seeded.optimizer_run_id}/live",
                             headers={"HX-Request": "true"})  # fmt: skip
    assert fragment.status_code == 401 and fragment.headers["hx-redirect"].startswith("/dashboard/login")
    form = await web.get("/dashboard/login")
    assert form.status_code == 200 and 'action="/dashboard/login"' in form.text


async def test_login_refuses_a_wrong_password_and_keeps_next_on_the_dashboard(
    web: httpx.AsyncClient, services: Services, acme: TenantKeys
) -> None:
    email = await add_member(services, acme.tenant_id, "viewer")
    wrong = await web.post("/dashboard/login", data={"email": email, "password": "not it"})
    assert wrong.status_code == 401 and "wrong email or password" in wrong.text
    assert "dspy_ash_session" not in web.cookies
    elsewhere = await web.post("/dashboard/login",
                               data={"email": email, "password": PASSWORD, "next": "https://evil.example/"})  # fmt: skip
    assert elsewhere.status_code == 303 and elsewhere.headers["location"] == "/dashboard/programs"
    web.cookies.clear()
    forged = await web.post("/dashboard/login", data={"email": email, "password": PASSWORD},
                            headers={"Origin": "https://evil.example"})  # fmt: skip
    assert forged.status_code == 403 and "dspy_ash_session" not in web.cookies
    back = await web.post("/dashboard/login",
                          data={"email": email, "password": PASSWORD, "next": "/dashboard/runs"})  # fmt: skip
    assert back.status_code == 303 and back.headers["location"] == "/dashboard/runs"
    cookies = back.headers.get_list("set-cookie")
    assert all("HttpOnly" in c and "SameSite=strict" in c for c in cookies) and len(cookies) == 2


async def test_an_admin_sees_every_page_with_the_tenant_and_role_in_the_header(
    web: httpx.AsyncClient, services: Services, acme: TenantKeys, seeded: Seeded
) -> None:
    await log_in(web, services, acme, "admin")
    tenant = await invoke(services, "tenant.get", admin_of(acme.tenant_id), {})
    pages = {
        "/dashboard/programs": ["multihop-qa"],
        f"/dashboard/programs/{seeded.program_id}": ["v1", "v2", "serving", "Promote", "chain_of_thought",
                                                     "retrieve", "Executions", "p95"],
        f"/dashboard/programs/{seeded.program_id}/diff?version_id={seeded.versions[1]}&against={seeded.versions[0]}":
            [NEW_INSTRUCTIONS, "Answer the question.", "Madrid"],
        "/dashboard/runs": ["BootstrapFewShot", "multihop-qa"],
        f"/dashboard/runs/optimizer/{seeded.optimizer_run_id}": ["trial 4 of 10", "0.680", "Cancel", "<polyline"],
        f"/dashboard/runs/evaluation/{seeded.evaluation_run_id}": ["Paris", "the LM timed out", "Cancel"],
        "/dashboard/traces": ["QA"],
        f"/dashboard/traces/{seeded.trace_id}": ["Predict", "openai/gpt-4o-mini", "Be brief.", "answer 0"],
        "/dashboard/admin/providers": ["LM providers"],
        "/dashboard/admin/members": ["admin-"],
        "/dashboard/admin/keys": ["viewer", "Revoke"],
        "/dashboard/admin/audit": ["trial", "optimizer_run"],
    }  # fmt: skip
    for path, expected in pages.items():
        response = await web.get(path)
        assert response.status_code == 200, (path, response.text)
        for text in expected:
            assert text in response.text, (path, text)
        assert tenant.name in response.text and 'class="role role-admin"' in response.text, path
        for link in ADMIN_PAGES:
            assert f'href="{link}"' in response.text, (path, link)

