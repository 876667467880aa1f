"""The dashboard in-process: login and logout, every page for an admin, the admin pages refused to a
viewer (and not linked for it), redirects without a session, the security headers, CSRF on every POST,
and another tenant's ids as 404 pages; datasets (splits, paged examples, export), an evaluation's results
paged, two evaluations compared, the playground (outputs, and its problems shown in the page) and the
chart over time."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from api_helpers import TenantKeys
from dashboard_helpers import (
    NEW_INSTRUCTIONS,
    PASSWORD,
    Compared,
    Seeded,
    add_member,
    admin_of,
    seed_comparison,
    seed_program,
    seed_recent_traces,
    seed_served,
)

from dspy_ash.actions import Services, ServiceSettings, invoke
from dspy_ash.api import create_app
from dspy_ash.store import repos
from dspy_ash.testing import FakeOpenAIServer, Fault

ADMIN_PAGES = ("/dashboard/admin/providers", "/dashboard/admin/members", "/dashboard/admin/keys",
               "/dashboard/admin/audit")  # fmt: skip


@pytest.fixture
def settings() -> ServiceSettings:  # plain-HTTP test client: cookies without Secure
    return ServiceSettings(max_body_bytes=64 * 1024, rate_limit_per_minute=10_000, secure_cookies=False,
                           execute_timeout=1.0, program_concurrency=1)  # fmt: skip


@pytest.fixture
async def web(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(services=services), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


@pytest.fixture
async def seeded(services: Services, acme: TenantKeys) -> Seeded:
    return await seed_program(services, acme.tenant_id)


@pytest.fixture
async def compared(services: Services, acme: TenantKeys, seeded: Seeded) -> Compared:
    return await seed_comparison(services, acme.tenant_id, seeded)


@pytest.fixture
async def lm_server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer() as server:
        yield server


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


def assert_no_inline_code(html: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert not re.search(r"\son[a-z]+=", html) and "style=" not in html


async def test_a_dataset_shows_its_splits_and_pages_its_examples(
    web: httpx.AsyncClient, services: Services, acme: TenantKeys, compared: Compared
) -> None:
    await log_in(web, services, acme, "viewer")
    listing = await web.get("/dashboard/datasets")
    assert listing.status_code == 200 and f'href="/dashboard/datasets/{compared.dataset_id}"' in listing.text
    page = await web.get(f"/dashboard/datasets/{compared.dataset_id}")
    assert page.status_code == 200
    assert_no_inline_code(page.text)
    splits = dict(re.findall(r"<dt>(?:<a [^>]*>)?([a-z ]+)(?:</a>)?</dt><dd>(\d+)</dd>", page.text))
    assert splits == {"train": "1", "dev": "2", "test": "1", "in no split": "1"}
    assert "Capital of Chile?" in page.text and "Santiago" in page.text
    dev = await web.get(f"/dashboard/datasets/{compared.dataset_id}", params={"split": "dev"})
    assert "Capital of Italy?" in dev.text and "Capital of Japan?" not in dev.text
    # more examples than a page: the list action's cursor leads to the rest
    body = {"name": "numbers", "format": "jsonl", "input_keys": ["n"],
            "content": "\n".join(json.dumps({"n": f"number {i}", "double": 2 * i}) for i in range(60))}  # fmt: skip
    numbers = await invoke(services, "datasets.upload", admin_of(acme.tenant_id), body)
    first = await web.get(f"/dashboard/datasets/{numbers.id}")
    shown = re.findall(r"number (\d+)", first.text)
    assert shown == [str(i) for i in range(50)]
    following = re.search(r'<a href="(\?cursor=[^"]+)">Next page', first.text)
    assert following is not None
    rest = await web.get(f"/dashboard/datasets/{numbers.id}{following.group(1).replace('&amp;', '&')}")
    assert re.findall(r"number (\d+)", rest.text) == [str(i) for i in range(50, 60)]
    assert "Next page" not in rest.text


async def test_a_dataset_exports_as_a_download(
    web: httpx.AsyncClient, services: Services, acme: TenantKeys, compared: Compared
) -> None:
    await log_in(web, services, acme, "viewer")
    page = await web.get(f"/dashboard/datasets/{compared.dataset_id}")
    assert f'href="/dashboard/datasets/{compared.dataset_id}/export?format=jsonl"' in page.text
    whole = await web.get(f"/dashboard/datasets/{compared.dataset_id}/export", params={"format": "jsonl"})
    assert whole.status_code == 200
    assert whole.headers["content-disposition"] == 'attachment; filename="capitals.jsonl"'
    records = [json.loads(line) for line in whole.text.splitlines() if line]
    assert [r["question"] for r in records][:2] == ["Capital of France?", "Capital of Italy?"]
    assert len(records) == 5
    dev = await web.get(f"/dashboard/datasets/{compared.dataset_id}/export",
                        params={"format": "csv", "split": "dev"})  # fmt: skip
    assert dev.headers["content-disposition"] == 'attachment; filename="capitals-dev.csv"'
    assert "text/csv" in dev.headers["content-type"]
    assert dev.text.splitlines()[1:] == ["Capital of France?,Paris,dev", "Capital of Italy?,Rome,dev"]


async def test_an_evaluations_results_page_past_the_first_hundred(
    web: httpx.AsyncClient, services: Services, acme: TenantKeys, seeded: Seeded
) -> None:
    admin = admin_of(acme.tenant_id)
    run = await invoke(services, "evaluation_runs.create", admin, {"program_id": seeded.program_id})
    results = [{"position": i, "prediction": {"answer": f"guess {i}"}, "score": 0.5} for i in range(130)]
    async with services.db.transaction(tenant_id=acme.tenant_id) as s:
        await repos.evaluations.add_results(s, tenant_id=acme.tenant_id, actor="test", run_id=run.id,
                                            results=results)  # fmt: skip
    await log_in(web, services, acme, "viewer")
    first = await web.get(f"/dashboard/runs/evaluation/{run.id}")
    assert re.findall(r"guess (\d+)", first.text) == [str(i) for i in range(100)]
    following = re.search(
        r'href="(/dashboard/runs/evaluation/[^"?]+\?results_cursor=[^"]+)">Next page', first.text
    )
    assert following is not None
    rest = await web.get(following.group(1))
    assert re.findall(r"guess (\d+)", rest.text) == [str(i) for i in range(100, 130)]
    assert "Next page" not in rest.text and "First page" in rest.text


async def test_two_evaluations_compared_show_where_they_differ(
    web: httpx.AsyncClient, services: Services, acme: TenantKeys, seeded: Seeded, compared: Compared
) -> None:
    await log_in(web, services, acme, "viewer")
    a, b = compared.runs
    runs = await web.get("/dashboard/runs")
    assert 'action="/dashboard/runs/compare"' in runs.text
    assert f'name="run_id" value="{a}"' in runs.text and f'name="run_id" value="{b}"' in runs.text
    run_page = await web.get(f"/dashboard/runs/evaluation/{a}")
    assert f'<option value="{b}">' in run_page.text  # the other run of the same dataset
    assert f'<option value="{seeded.evaluation_run_id}">' not in run_page.text  # of no dataset
    page = await web.get("/dashboard/runs/compare", params=[("run_id", str(a)), ("run_id", str(b))])
    assert page.status_code == 200, page.text
    assert_no_inline_code(page.text)
    assert re.search(r'<strong class="differing-count">1</strong> of 2 examples differ', page.text)
    rows = re.findall(r'<tr class="(differs|same)">(.*?)</tr>', page.text, re.DOTALL)
    assert [kind for kind, _ in rows] == ["same", "differs"]
    differing = rows[1][1]
    assert compared.differing in differing and compared.wrong in differing and "Rome" in differing
    assert re.findall(r'<td class="num">(\d+\.\d+)</td>', differing) == ["0.000", "1.000"]
    only = await web.get("/dashboard/runs/compare",
                         params=[("run_id", str(a)), ("run_id", str(b)), ("only", "differing")])  # fmt: skip
    assert "Capital of France?" not in only.text and compared.differing in only.text
    one = await web.get("/dashboard/runs/compare", params=[("run_id", str(a)), ("run_id", str(a))])
    assert one.status_code == 422 and "pick two different evaluation runs" in one.text
    other = await web.get("/dashboard/runs/compare",
                          params=[("run_id", str(a)), ("run_id", str(seeded.evaluation_run_id))])  # fmt: skip
    assert other.status_code == 422 and "different datasets" in other.text


async def test_the_chart_over_time_counts_executions_per_bucket(
    web: httpx.AsyncClient, services: Services, acme: TenantKeys, seeded: Seeded
) -> None:
    await seed_recent_traces(services, acme.tenant_id, seeded.program_id, hours_ago=(0, 2, 2, 30))
    await log_in(web, services, acme, "viewer")
    page = await web.get(f"/dashboard/programs/{seeded.program_id}")
    loader = f'hx-get="/dashboard/programs/{seeded.program_id}/activity?window=24h" hx-trigger="load"'
    assert loader in page.text
    day = await web.get(f"/dashboard/programs/{seeded.program_id}/activity")
    assert day.status_code == 200 and "<html" not in day.text
    assert_no_inline_code(day.text)
    assert '<strong class="activity-total">3</strong>' in day.text
    assert day.text.count('class="act-bar"') == 24
    titles = re.findall(r"<title>[^<]*: (\d+) executions", day.text)
    assert titles.count("0") == 22 and sorted(titles)[-2:] == ["1", "2"]
    assert titles[-1] == "1" and titles[-3] == "2"  # the last bucket holds now, two hours back the pair
    assert '<polyline class="p95-line"' in day.text
    week = await web.get(f"/dashboard/programs/{seeded.program_id}/activity", params={"window": "7d"})
    assert '<strong class="activity-total">4</strong>' in week.text
    assert week.text.count('class="act-bar"') == 28


async def test_the_playground_runs_the_program_and_shows_outputs_and_figures(
    web: httpx.AsyncClient, services: Services, acme: TenantKeys, lm_server: FakeOpenAIServer
) -> None:
    program_id = await seed_served(services, acme.tenant_id, lm_server.api_base)
    await log_in(web, services, acme, "editor")
    page = await web.get(f"/dashboard/programs/{program_id}")
    assert_no_inline_code(page.text)
    action = f'action="/dashboard/programs/{program_id}/playground"'
    assert action in page.text and 'name="input.question"' in page.text
    form = {"csrf_token": csrf_in(page.text), "input.question": "Capital of France?", "version": ""}
    fragment = await web.post(f"/dashboard/programs/{program_id}/playground", data=form,
                              headers={"HX-Request": "true"})  # fmt: skip
    assert fragment.status_code == 200, fragment.text
    assert "<html" not in fragment.text and 'id="playground-result"' in fragment.text
    assert "answer for Capital of France?" in fragment.text
    assert len(lm_server.requests) == 1 and "Capital of France?" in json.dumps(lm_server.requests[0].body)
    tokens = re.search(r"<dt>Tokens</dt><dd>(\d+) ", fragment.text)
    assert tokens is not None and int(tokens.group(1)) > 0
    assert re.search(r"<dt>Latency</dt><dd>\d+ ms</dd>", fragment.text)
    trace = re.search(r'class="trace-link" href="/dashboard/traces/([0-9a-f-]{36})"', fragment.text)
    assert trace is not None
    # without htmx: the program's page again, with the result and what was typed
    full = await web.post(f"/dashboard/programs/{program_id}/playground", data=form)
    assert full.status_code == 200 and "<html" in full.text and "answer for Capital of France?" in full.text
    assert ">Capital of France?</textarea>" in full.text


async def test_the_playground_shows_the_problem_when_an_execution_fails(
    web: httpx.AsyncClient, services: Services, acme: TenantKeys, lm_server: FakeOpenAIServer
) -> None:
    program_id = await seed_served(services, acme.tenant_id, lm_server.api_base)
    token = await log_in(web, services, acme, "editor")
    url = f"/dashboard/programs/{program_id}/playground"
    form = {"csrf_token": token, "input.question": "Capital of France?"}
    hx = {"HX-Request": "true"}

    def problem(response: httpx.Response) -> tuple[int, str, str]:
        found = re.search(r'<span class="code">(\d+)</span> <span class="title">([^<]+)</span></h3>\s*'
                          r'<p class="detail">([^<]*)</p>', response.text)  # fmt: skip
        assert found is not None, response.text
        assert int(found.group(1)) == response.status_code and "Traceback" not in response.text
        return int(found.group(1)), found.group(2), found.group(3)

    lm_server.fail_next(Fault.bad_request("model is overloaded today"))
    failed = problem(await web.post(url, data=form, headers=hx))
    assert failed[:2] == (502, "Language model error") and "model is overloaded today" in failed[2]
    lm_server.fail_next(Fault.slow(2.5))
    late = problem(await web.post(url, data=form, headers=hx))
    assert late[:2] == (504, "Timed out") and "did not finish within 1 seconds" in late[2]
    lm_server.fail_next(Fault.slow(0.6))  # the program's one execution slot is taken meanwhile
    seen = len(lm_server.requests)
    first = asyncio.ensure_future(web.post(url, data=form, headers=hx))
    while len(lm_server.requests) == seen:
        await asyncio.sleep(0.01)
    busy = problem(await web.post(url, data=form, headers=hx))
    assert (await first).status_code == 200
    assert busy[:2] == (429, "Too busy") and "retry shortly" in busy[2]
    # the full page keeps the status as well (a new question: the provider's cache has the last answer)
    lm_server.fail_next(Fault.bad_request("still overloaded"))
    page = await web.post(url, data={**form, "input.question": "Capital of Spain?"})
    assert page.status_code == 502 and "<html" in page.text and "still overloaded" in page.text


async def test_a_code_programs_playground_takes_one_json_object(
    web: httpx.AsyncClient, services: Services, acme: TenantKeys
) -> None:
    admin = admin_of(acme.tenant_id)
    program = await invoke(services, "programs.create", admin, {"name": "coded", "source": "elsewhere.qa:QA"})
    token = await log_in(web, services, acme, "editor")
    page = await web.get(f"/dashboard/programs/{program.id}")
    assert 'name="inputs_json"' in page.text and 'name="input.' not in page.text
    url = f"/dashboard/programs/{program.id}/playground"
    for text, detail in (("{not json", "the inputs are not JSON"), ('["a list"]', "one JSON object")):
        bad = await web.post(
            url, data={"csrf_token": token, "inputs_json": text}, headers={"HX-Request": "true"}
        )
        assert bad.status_code == 422 and "Invalid inputs" in bad.text and detail in bad.text
    refused = await web.post(url, data={"csrf_token": token, "inputs_json": '{"question": "q"}'},
                             headers={"HX-Request": "true"})  # fmt: skip
    assert refused.status_code == 422 and "the tenant has no LM provider" in refused.text  # the action's word


async def test_a_viewer_cannot_use_the_playground_and_a_post_needs_the_csrf_token(
    web: httpx.AsyncClient, services: Services, acme: TenantKeys, lm_server: FakeOpenAIServer
) -> None:
    program_id = await seed_served(services, acme.tenant_id, lm_server.api_base)
    token = await log_in(web, services, acme, "viewer")
    page = await web.get(f"/dashboard/programs/{program_id}")
    assert page.status_code == 200 and "/playground" not in page.text
    assert "editors and admins may use the playground" in page.text
    url = f"/dashboard/programs/{program_id}/playground"
    forced = await web.post(
        url, data={"csrf_token": token, "input.question": "q"}, headers={"HX-Request": "true"}
    )
    assert forced.status_code == 403 and "viewer role may not programs.execute" in forced.text
    web.cookies.clear()
    editor_token = await log_in(web, services, acme, "editor")
    for data in ({"input.question": "q"}, {"csrf_token": "wrong", "input.question": "q"}):
        refused = await web.post(url, data=data)
        assert refused.status_code == 403 and "CSRF" in refused.text
    assert lm_server.requests == []  # nothing ran
    done = await web.post(url, data={"input.question": "q"}, headers={"X-CSRF-Token": editor_token})
    assert done.status_code == 200 and len(lm_server.requests) == 1


async def test_another_tenants_datasets_runs_and_programs_are_404_on_the_new_pages(
    web: httpx.AsyncClient, services: Services, acme: TenantKeys, globex: TenantKeys, seeded: Seeded,
    compared: Compared, lm_server: FakeOpenAIServer,
) -> None:  # fmt: skip
    served = await seed_served(services, acme.tenant_id, lm_server.api_base)
    token = await log_in(web, services, globex, "admin")
    a, b = compared.runs
    theirs = [
        f"/dashboard/datasets/{compared.dataset_id}",
        f"/dashboard/datasets/{compared.dataset_id}/export",
        f"/dashboard/runs/compare?run_id={a}&run_id={b}",
        f"/dashboard/programs/{seeded.program_id}/activity",
    ]
    for path in theirs:
        response = await web.get(path)
        assert response.status_code == 404, path
        assert (
            "Not found" in response.text
            and "capitals" not in response.text
            and "Capital of" not in response.text
        )
    posted = await web.post(f"/dashboard/programs/{served}/playground",
                            data={"csrf_token": token, "input.question": "q"})  # fmt: skip
    assert posted.status_code == 404 and lm_server.requests == []
    assert "capitals" not in (await web.get("/dashboard/datasets")).text
