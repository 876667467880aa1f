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


async def test_a_viewer_gets_403_on_admin_pages_and_no_links_or_change_buttons(
    web: httpx.AsyncClient, services: Services, acme: TenantKeys, seeded: Seeded
) -> None:
    await log_in(web, services, acme, "viewer")
    for path in ADMIN_PAGES:
        response = await web.get(path)
        assert response.status_code == 403, path
        assert "Not allowed" in response.text and "Traceback" not in response.text
    program = await web.get(f"/dashboard/programs/{seeded.program_id}")
    run = await web.get(f"/dashboard/runs/optimizer/{seeded.optimizer_run_id}")
    for page in (program, run):
        assert page.status_code == 200 and 'class="role role-viewer"' in page.text
        assert "/dashboard/admin/" not in page.text
        assert "/promote" not in page.text and "/cancel" not in page.text
    # a form it cannot see is still refused by the action's policy
    token = web.cookies["dspy_ash_csrf"]
    forced = await web.post(f"/dashboard/runs/optimizer/{seeded.optimizer_run_id}/cancel",
                            data={"csrf_token": token})  # fmt: skip
    assert forced.status_code == 403 and "viewer role may not optimizer_runs.cancel" in forced.text
    got = await invoke(
        services, "optimizer_runs.get", admin_of(acme.tenant_id), {"run_id": seeded.optimizer_run_id}
    )
    assert got.status == "queued"


async def test_an_editor_sees_change_buttons_but_no_admin_links(
    web: httpx.AsyncClient, services: Services, acme: TenantKeys, seeded: Seeded
) -> None:
    await log_in(web, services, acme, "editor")
    page = await web.get(f"/dashboard/programs/{seeded.program_id}")
    assert "/promote" in page.text and "/dashboard/admin/" not in page.text
    assert (await web.get("/dashboard/admin/keys")).status_code == 403


async def test_every_dashboard_response_carries_a_strict_content_security_policy(
    web: httpx.AsyncClient, services: Services, acme: TenantKeys, seeded: Seeded
) -> None:
    anonymous = [await web.get("/dashboard/login"), await web.get("/dashboard/static/dashboard.css")]
    await log_in(web, services, acme, "admin")
    pages = [await web.get("/dashboard/programs"), await web.get(f"/dashboard/traces/{uuid.uuid4()}"),
             await web.get("/dashboard/no-such-page"), await web.get("/dashboard/programs/not-a-uuid")]  # fmt: skip
    assert [p.status_code for p in pages] == [200, 404, 404, 422]
    for response in [*anonymous, *pages]:
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
    assert pages[0].headers["cache-control"] == "no-store"
    for page in pages:  # no inline script or handler anywhere, as the policy would block them
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)
        assert not re.search(r"\son[a-z]+=", page.text) and "style=" not in page.text
    assert "text/html" in pages[1].headers["content-type"] and "Not found" in pages[1].text
    api = await web.get("/api/v1/programs")  # the REST API is not the dashboard's
    assert "content-security-policy" not in api.headers


async def test_the_vendored_htmx_is_served_from_this_server(web: httpx.AsyncClient) -> None:
    login = await web.get("/dashboard/login")
    scripts = re.findall(r'<script src="([^"]+)"', login.text)
    assert "/dashboard/static/htmx-2.0.11.min.js" in scripts
    for src in scripts:
        assert src.startswith("/dashboard/static/")
        served = await web.get(src)
        assert served.status_code == 200 and "javascript" in served.headers["content-type"]
    htmx = await web.get("/dashboard/static/htmx-2.0.11.min.js")
    assert 'version:"2.0.11"' in htmx.text


async def test_every_post_needs_the_csrf_token(
    web: httpx.AsyncClient, services: Services, acme: TenantKeys, seeded: Seeded
) -> None:
    token = await log_in(web, services, acme, "admin")
    key = (await invoke(services, "api_keys.list", admin_of(acme.tenant_id), {})).items[0]
    posts = [
        f"/dashboard/programs/{seeded.program_id}/versions/{seeded.versions[0]}/promote",
        f"/dashboard/runs/optimizer/{seeded.optimizer_run_id}/cancel",
        f"/dashboard/runs/evaluation/{seeded.evaluation_run_id}/cancel",
        f"/dashboard/admin/keys/{key.id}/revoke",
        "/dashboard/logout",
    ]
    for path in posts:
        for data in ({}, {"csrf_token": "wrong"}):
            refused = await web.post(path, data=data)
            assert refused.status_code == 403 and "CSRF" in refused.text, (path, data)
    program = await invoke(
        services, "programs.get", admin_of(acme.tenant_id), {"program_id": seeded.program_id}
    )
    assert program.serving_version_id is None  # nothing changed
    assert (await web.get("/dashboard/programs")).status_code == 200  # still logged in
    # the header works as well as the form field (htmx sends it)
    done = await web.post(posts[0], headers={"X-CSRF-Token": token})
    assert done.status_code == 303


async def test_promote_moves_the_serving_marker(
    web: httpx.AsyncClient, services: Services, acme: TenantKeys, seeded: Seeded
) -> None:
    await log_in(web, services, acme, "editor")
    page = await web.get(f"/dashboard/programs/{seeded.program_id}")
    assert re.search(r"v2 <span class=\"badge serving-badge\">serving \(latest\)", page.text)
    promote = f"/dashboard/programs/{seeded.program_id}/versions/{seeded.versions[0]}/promote"
    assert promote in page.text
    done = await web.post(promote, data={"csrf_token": csrf_in(page.text)})
    assert done.status_code == 303 and done.headers["location"] == f"/dashboard/programs/{seeded.program_id}"
    again = await web.get(done.headers["location"])
    assert re.search(r"v1 <span class=\"badge serving-badge\">serving</span>", again.text)
    program = await invoke(
        services, "programs.get", admin_of(acme.tenant_id), {"program_id": seeded.program_id}
    )
    assert program.serving_version_id == seeded.versions[0]


async def test_cancel_and_resume_a_run_and_polling_stops_when_it_is_finished(
    web: httpx.AsyncClient, services: Services, acme: TenantKeys, seeded: Seeded
) -> None:
    token = await log_in(web, services, acme, "editor")
    live = f"/dashboard/runs/optimizer/{seeded.optimizer_run_id}/live"
    polling = await web.get(live, headers={"HX-Request": "true"})
    assert polling.status_code == 200 and 'hx-trigger="every 1.5s"' in polling.text
    assert "<html" not in polling.text  # a fragment, not a page
    base = f"/dashboard/runs/optimizer/{seeded.optimizer_run_id}"
    cancelled = await web.post(f"{base}/cancel", data={"csrf_token": token})
    assert cancelled.status_code == 303 and cancelled.headers["location"] == base
    stopped = await web.get(live)
    assert "hx-trigger" not in stopped.text and "status-cancelled" in stopped.text
    assert f"{base}/resume" in stopped.text
    twice = await web.post(f"{base}/cancel", data={"csrf_token": token})
    assert twice.status_code == 409 and "Illegal state transition" in twice.text
    resumed = await web.post(f"{base}/resume", data={"csrf_token": token})
    assert resumed.status_code == 303
    assert "status-queued" in (await web.get(live)).text


async def test_another_tenants_ids_are_404_pages(
    web: httpx.AsyncClient, services: Services, acme: TenantKeys, globex: TenantKeys, seeded: Seeded
) -> None:
    await log_in(web, services, globex, "admin")
    theirs = [
        f"/dashboard/programs/{seeded.program_id}",
        f"/dashboard/programs/{seeded.program_id}/diff?version_id={seeded.versions[1]}&against={seeded.versions[0]}",
        f"/dashboard/runs/optimizer/{seeded.optimizer_run_id}",
        f"/dashboard/runs/evaluation/{seeded.evaluation_run_id}/live",
        f"/dashboard/traces/{seeded.trace_id}",
    ]
    for path in theirs:
        response = await web.get(path)
        assert response.status_code == 404, path
        assert "Not found" in response.text and "multihop-qa" not in response.text
    token = web.cookies["dspy_ash_csrf"]
    promote = f"/dashboard/programs/{seeded.program_id}/versions/{seeded.versions[0]}/promote"
    assert (await web.post(promote, data={"csrf_token": token})).status_code == 404
    assert "multihop-qa" not in (await web.get("/dashboard/programs")).text


async def test_logout_ends_the_session(web: httpx.AsyncClient, services: Services, acme: TenantKeys) -> None:
    token = await log_in(web, services, acme, "viewer")
    session = web.cookies["dspy_ash_session"]
    out = await web.post("/dashboard/logout", data={"csrf_token": token})
    assert out.status_code == 303 and out.headers["location"] == "/dashboard/login"
    assert "dspy_ash_session" not in web.cookies
    web.cookies.set("dspy_ash_session", session)
    web.cookies.set("dspy_ash_csrf", token)
    assert (await web.get("/dashboard/programs")).status_code == 303  # the old cookie no longer works


async def test_the_stand_in_banner_shows_when_the_settings_say_so(
    services: Services, acme: TenantKeys
) -> None:
    notice = "Answers come from a scripted stand-in LM, not a real model."
    settings = services.settings.model_copy(update={"stand_in_notice": notice})
    standin = type(services)(db=services.db, settings=settings)
    app = create_app(services=standin)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as web:
        page = await web.get("/dashboard/login")
    assert notice in page.text and 'class="banner stand-in"' in page.text
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(services=services)),
                                 base_url="http://test") as web:  # fmt: skip
        assert "stand-in" not in (await web.get("/dashboard/login")).text
