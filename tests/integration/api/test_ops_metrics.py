"""/metrics in-process: runs by state and the queue's depth come from a cached action, so scrapes cannot
load the database; the engine's subscriber is the app's own and is subscribed only while it runs."""

from __future__ import annotations

import uuid

import httpx
from api_helpers import TenantKeys
from prometheus_client.parser import text_string_to_metric_families

from dspy_ash.actions import Services
from dspy_ash.actions._ops import run_counts
from dspy_ash.api import create_app
from dspy_ash.settings import settings
from dspy_ash.store import repos


async def add_runs(services: Services, tenant: TenantKeys, evaluations: int, optimizations: int) -> None:
    async with services.db.transaction(tenant_id=tenant.tenant_id) as s:
        program = await repos.programs.create_program(
            s, tenant_id=tenant.tenant_id, actor="test", name=f"p-{uuid.uuid4().hex[:8]}", source="a.b:C"
        )
        for _ in range(evaluations):
            await repos.runs.create_evaluation_run(
                s, tenant_id=tenant.tenant_id, actor="test", program_id=program.id
            )
        for _ in range(optimizations):
            await repos.runs.create_optimizer_run(
                s,
                tenant_id=tenant.tenant_id,
                actor="test",
                program_id=program.id,
                optimizer="BootstrapFewShot",
            )


async def test_run_counts_are_read_at_most_once_per_max_age(
    services: Services, acme: TenantKeys, globex: TenantKeys
) -> None:
    before = await run_counts(services, max_age=0)
    await add_runs(services, acme, evaluations=2, optimizations=1)
    await add_runs(services, globex, evaluations=1, optimizations=0)  # every tenant's runs count

    cached = await run_counts(services, max_age=3600)
    assert cached is before  # asked again within max_age: the last answer, no query

    fresh = await run_counts(services, max_age=0)
    assert fresh.counted_at > before.counted_at
    assert fresh.by_state[("evaluation", "queued")] == before.by_state[("evaluation", "queued")] + 3
    assert fresh.by_state[("optimization", "queued")] == before.by_state[("optimization", "queued")] + 1
    assert fresh.queued == before.queued + 4
    assert set(fresh.by_state) == {
        (kind, state)
        for kind in ("optimization", "evaluation")
        for state in ("queued", "running", "succeeded", "failed", "cancelled")
    }


async def test_metrics_show_runs_by_state_and_queue_depth(services: Services, acme: TenantKeys) -> None:
    await add_runs(services, acme, evaluations=1, optimizations=2)
    expected = await run_counts(services, max_age=0)  # the cache the scrape then reads
    app = create_app(services=services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        text = (await http.get("/metrics")).text
    values = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert values[("dspy_ash_queue_depth", ())] == expected.queued
    queued = values[("dspy_ash_runs", (("kind", "optimization"), ("state", "queued")))]
    assert queued == expected.by_state[("optimization", "queued")]


async def test_a_refused_body_is_counted_too(services: Services) -> None:
    app = create_app(services=services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        too_big = b"x" * (services.settings.max_body_bytes + 1)
        assert (await http.post("/api/v1/programs", content=too_big)).status_code == 413
        text = (await http.get("/metrics")).text
    assert 'dspy_ash_http_requests_total{method="POST",route="<unmatched>",status="413"} 1.0' in text


async def test_the_engine_subscriber_is_subscribed_while_the_app_runs(services: Services) -> None:
    app = create_app(services=services)
    engine = app.state.metrics.engine
    assert not any(c is engine for c in settings.callbacks)
    async with app.router.lifespan_context(app):
        assert any(c is engine for c in settings.callbacks)
    assert not any(c is engine for c in settings.callbacks)


def test_two_apps_have_their_own_registries() -> None:
    first, second = create_app(), create_app()
    assert first.state.metrics.registry is not second.state.metrics.registry
    first.state.metrics.observe("GET", "/healthz", 200, 0.01)
    assert (
        second.state.metrics.registry.get_sample_value(
            "dspy_ash_http_requests_total", {"method": "GET", "route": "/healthz", "status": "200"}
        )
        is None
    )


async def test_an_unknown_method_does_not_become_a_label(services: Services) -> None:
    app = create_app(services=services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        for method in ("BREW", "WHEN", "XYZZY"):
            await http.request(method, "/healthz")
        text = (await http.get("/metrics")).text
    assert 'dspy_ash_http_requests_total{method="other",route="/healthz",status="405"} 3.0' in text
    assert "BREW" not in text
