"""Serving through REST: providers and their write-only secrets, generate, modules' forward, program
execution (traced, per tenant, bounded in concurrency and time), the streamed variant, and stats."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from api_helpers import TenantKeys
from cases_serving import SPEC
from sqlalchemy import select
from store_helpers import program_state

from dspy_ash.actions import Services, ServiceSettings, recorder_of
from dspy_ash.programs import build_program
from dspy_ash.store import repos
from dspy_ash.store.models import AuditEvent, LMProvider, LMRequestLog, Trace
from dspy_ash.testing import FakeOpenAIServer, Fault

QUESTION = {"question": "Capital of France?"}


@pytest.fixture
def settings() -> ServiceSettings:
    return ServiceSettings(
        max_body_bytes=64 * 1024,
        rate_limit_per_minute=10_000,
        program_concurrency=1,
        execute_timeout=1.5,
        program_modules=("store_helpers",),
    )


@pytest.fixture
async def lm_server() -> AsyncIterator[FakeOpenAIServer]:
    async with FakeOpenAIServer() as server:
        yield server


def _provider(server: FakeOpenAIServer, name: str = "fake", **extra: Any) -> dict[str, Any]:
    config = {"model": "fake-model", "num_retries": 0, **extra.pop("config", {})}
    return {"name": name, "kind": "openai_compatible", "base_url": server.api_base, "config": config, **extra}


async def _post(client: httpx.AsyncClient, tenant: TenantKeys, path: str, body: Any) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=tenant.auth("admin"))
    assert response.status_code in (200, 201), response.text
    return response.json()


async def _served(client: httpx.AsyncClient, tenant: TenantKeys, server: FakeOpenAIServer) -> str:
    await _post(client, tenant, "/providers", _provider(server))
    return (await _post(client, tenant, "/programs", {"name": "served", "spec": SPEC}))["id"]


async def test_provider_secrets_are_never_returned_or_audited(
    client: httpx.AsyncClient, services: Services, acme: TenantKeys, lm_server: FakeOpenAIServer
) -> None:
    secret, newer = "sk-secret-" + uuid.uuid4().hex, "sk-newer-" + uuid.uuid4().hex
    lm_server.require_key = secret
    created = await _post(client, acme, "/providers", _provider(lm_server, api_key=secret))
    assert created["has_secret"] is True and created["secret_env"] is None
    base = f"/providers/{created['id']}"
    texts = [json.dumps(created)]
    texts.append((await client.get(base, headers=acme.auth("viewer"))).text)
    texts.append((await client.get("/providers", headers=acme.auth("viewer"))).text)
    texts.append((await client.patch(base, json={"name": "renamed"}, headers=acme.auth())).text)
    generated = await _post(
        client, acme, f"{base}/generate", {"messages": [{"role": "user", "content": "hi"}]}
    )
    assert generated["text"]  # the stored key reached the server, which refuses any other
    texts.append(json.dumps(generated))
    texts.append((await client.put(f"{base}/secret", json={"api_key": newer}, headers=acme.auth())).text)
    async with services.db.transaction() as s:
        ciphertext = (await s.execute(select(LMProvider.secret_ciphertext))).scalars().all()
        audit_rows = (
            await s.execute(select(AuditEvent).where(AuditEvent.tenant_id == acme.tenant_id))
        ).scalars()
        texts += [json.dumps([e.before, e.after]) for e in audit_rows]
    texts.append((await client.get("/audit-events", headers=acme.auth())).text)
    for text in texts:
        assert secret not in text and newer not in text
        assert not any(c and c in text for c in ciphertext)
        assert "secret_ciphertext" not in text
    cleared = await client.put(f"{base}/secret", json={}, headers=acme.auth())
    assert cleared.json()["has_secret"] is False


async def test_generate_goes_through_the_stack_and_is_recorded(
    client: httpx.AsyncClient, services: Services, acme: TenantKeys, lm_server: FakeOpenAIServer
) -> None:
    provider = await _post(client, acme, "/providers", _provider(lm_server))
    body = {"messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 5}
    first = await _post(client, acme, f"/providers/{provider['id']}/generate", body)
    assert first["model"] == "fake-model" and first["usage"]["total_tokens"] > 0 and not first["cache_hit"]
    again = await _post(client, acme, f"/providers/{provider['id']}/generate", body)
    assert again["cache_hit"] and len(lm_server.requests) == 1  # the provider's cache answered
    assert lm_server.requests[0].body["max_tokens"] == 5
    assert await (await recorder_of(services)).aflush()
    async with services.db.transaction() as s:
        trace = await s.get(Trace, uuid.UUID(first["trace_id"]))
        assert trace is not None
        logged = (
            (await s.execute(select(LMRequestLog).where(LMRequestLog.trace_id == trace.id))).scalars().all()
        )
    assert trace.tenant_id == acme.tenant_id and trace.status == "ok"
    assert [r.total_tokens for r in logged] == [first["usage"]["total_tokens"]]


async def test_execute_returns_outputs_version_and_a_persisted_trace(
    client: httpx.AsyncClient, services: Services, acme: TenantKeys, lm_server: FakeOpenAIServer
) -> None:
    await _post(client, acme, "/providers", _provider(lm_server))
    program = await _post(client, acme, "/programs", {"name": "qa", "source": "store_helpers:QA"})
    demo = {"question": "Capital of Italy?", "answer": "Rome"}
    state = program_state("Answer in one word.", [demo])
    first = await _post(client, acme, f"/programs/{program['id']}/versions", {"state": state})
    await _post(client, acme, f"/programs/{program['id']}/versions", {"state": program_state()})
    response = await client.post(
        f"/programs/{program['id']}/execute", params={"version": first["id"]},
        json={"inputs": QUESTION}, headers=acme.auth("editor"),
    )  # fmt: skip
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["outputs"]["answer"] == "answer for Capital of France?"
    assert (result["version_id"], result["version_number"]) == (first["id"], 1)
    assert result["usage"]["total_tokens"] > 0 and result["latency"] > 0
    prompt = json.dumps(lm_server.requests[-1].body["messages"])
    assert "Answer in one word." in prompt and "Rome" in prompt  # version 1's state, not the latest
    latest = await _post(client, acme, f"/programs/{program['id']}/execute", {"inputs": QUESTION})
    assert latest["version_number"] == 2
    assert await (await recorder_of(services)).aflush()
    async with services.db.transaction() as s:
        trace = await repos.traces.get_trace(
            s, tenant_id=acme.tenant_id, trace_id=uuid.UUID(result["trace_id"])
        )
    assert str(trace.trace.program_id) == program["id"] and str(trace.trace.version_id) == first["id"]
    assert any(span.kind == "lm" for span in trace.spans)


async def test_code_programs_import_only_allowed_modules(
    client: httpx.AsyncClient, acme: TenantKeys, lm_server: FakeOpenAIServer
) -> None:
    await _post(client, acme, "/providers", _provider(lm_server))
    program = await _post(client, acme, "/programs", {"name": "evil", "source": "os.path:join"})
    response = await client.post(
        f"/programs/{program['id']}/execute", json={"inputs": {}}, headers=acme.auth()
    )
    assert response.status_code == 422 and "may import" in response.json()["detail"]
    missing = await _post(client, acme, "/programs", {"name": "typo", "source": "store_helpers:Missing"})
    response = await client.post(
        f"/programs/{missing['id']}/execute", json={"inputs": {}}, headers=acme.auth()
    )
    assert response.status_code == 422 and "cannot load" in response.json()["detail"]
    assert lm_server.requests == []


async def test_tenants_execute_concurrently_with_their_own_providers(
    client: httpx.AsyncClient, acme: TenantKeys, globex: TenantKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = {"acme": "sk-acme-" + uuid.uuid4().hex, "globex": "sk-globex-" + uuid.uuid4().hex}
    async with (
        FakeOpenAIServer(require_key=keys["acme"], latency=0.2) as a,
        FakeOpenAIServer(require_key=keys["globex"], latency=0.2) as g,
    ):
        programs = []
        for tenant, server, key in ((acme, a, keys["acme"]), (globex, g, keys["globex"])):
            await _post(client, tenant, "/providers", _provider(server, api_key=key))
            programs.append((await _post(client, tenant, "/programs", {"name": "same", "spec": SPEC}))["id"])
        results = await asyncio.gather(
            *(client.post(f"/programs/{pid}/execute", json={"inputs": QUESTION}, headers=t.auth("editor"))
              for pid, t in zip(programs, (acme, globex), strict=True))
        )  # fmt: skip
    assert [r.status_code for r in results] == [200, 200], [r.text for r in results]
    assert len(a.requests) == 1 and len(g.requests) == 1  # no shared cache across tenants either
    assert a.requests[0].headers["Authorization"] == f"Bearer {keys['acme']}"
    assert g.requests[0].headers["Authorization"] == f"Bearer {keys['globex']}"


async def test_over_the_concurrency_limit_is_429_with_retry_after(
    client: httpx.AsyncClient, acme: TenantKeys
) -> None:
    async with FakeOpenAIServer(latency=0.6) as slow:
        program_id = await _served(client, acme, slow)
        first = asyncio.ensure_future(
            client.post(f"/programs/{program_id}/execute", json={"inputs": QUESTION}, headers=acme.auth())
        )
        while not slow.requests:  # the first execution holds the program's only slot
            await asyncio.sleep(0.01)
        second = await client.post(
            f"/programs/{program_id}/execute", json={"inputs": {"question": "other"}}, headers=acme.auth()
        )
        assert (await first).status_code == 200
    assert second.status_code == 429 and second.headers["Retry-After"] == "1"
    assert second.json()["type"] == "urn:dspy-ash:problem:busy"


async def test_an_execution_past_the_timeout_is_504(client: httpx.AsyncClient, acme: TenantKeys) -> None:
    async with FakeOpenAIServer(latency=3.0) as slower:
        program_id = await _served(client, acme, slower)
        response = await client.post(
            f"/programs/{program_id}/execute", json={"inputs": QUESTION}, headers=acme.auth()
        )
    assert response.status_code == 504, response.text
    assert "did not finish within 1.5 seconds" in response.json()["detail"]


async def test_lm_errors_are_502_with_the_providers_message(
    client: httpx.AsyncClient, acme: TenantKeys, lm_server: FakeOpenAIServer
) -> None:
    program_id = await _served(client, acme, lm_server)
    lm_server.fail_next(Fault.bad_request("model is overloaded today"))
    response = await client.post(
        f"/programs/{program_id}/execute", json={"inputs": QUESTION}, headers=acme.auth()
    )
    assert response.status_code == 502
    assert response.json()["type"] == "urn:dspy-ash:problem:lm-error"
    assert "model is overloaded today" in response.json()["detail"]


async def test_without_a_provider_execution_is_refused(client: httpx.AsyncClient, acme: TenantKeys) -> None:
    program = await _post(client, acme, "/programs", {"name": "p", "spec": SPEC})
    response = await client.post(
        f"/programs/{program['id']}/execute", json={"inputs": QUESTION}, headers=acme.auth()
    )
    assert response.status_code == 422 and "no LM provider" in response.json()["detail"]


def _events(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


async def test_streamed_execution_sends_fields_then_the_result(
    client: httpx.AsyncClient, services: Services, acme: TenantKeys
) -> None:
    async with FakeOpenAIServer(stream_chunk_chars=4) as server:
        program_id = await _served(client, acme, server)
        response = await client.post(
            f"/programs/{program_id}/execute/stream", json={"inputs": QUESTION}, headers=acme.auth("editor")
        )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.text)
    names = [name for name, _ in events]
    assert names[-1] == "result" and names.count("result") == 1 and "field" in names
    assert names.index("field") < names.index("result")
    pieces = [data["chunk"] for name, data in events if name == "field" and data["field"] == "answer"]
    result = events[-1][1]
    assert "".join(pieces).strip() == result["outputs"]["answer"] == "answer for Capital of France?"
    assert server.requests[0].body.get("stream") is True
    assert await (await recorder_of(services)).aflush()
    async with services.db.transaction() as s:
        assert await s.get(Trace, uuid.UUID(result["trace_id"])) is not None


async def test_the_stream_route_is_authorized_as_its_action(
    client: httpx.AsyncClient, acme: TenantKeys, globex: TenantKeys, lm_server: FakeOpenAIServer
) -> None:
    program_id = await _served(client, acme, lm_server)
    path, body = f"/programs/{program_id}/execute/stream", {"inputs": QUESTION}
    assert (await client.post(path, json=body)).status_code == 401
    assert (await client.post(path, json=body, headers=acme.auth("viewer"))).status_code == 403
    assert (await client.post(path, json=body, headers=globex.auth("admin"))).status_code == 404
    assert lm_server.requests == []


async def test_modules_forward_alone(
    client: httpx.AsyncClient, acme: TenantKeys, lm_server: FakeOpenAIServer
) -> None:
    program_id = await _served(client, acme, lm_server)
    module = await _post(client, acme, f"/programs/{program_id}/modules",
                         {"name": "cot", "type": "chain_of_thought", "signature": "question -> answer",
                          "instructions": "Think first.", "config": {"temperature": 0.5}})  # fmt: skip
    assert module["signature"] == "question -> answer" and module["config"] == {"temperature": 0.5}
    out = await _post(client, acme, f"/modules/{module['id']}/forward", {"inputs": QUESTION})
    assert out["outputs"]["answer"] == "answer for Capital of France?" and "reasoning" in out["outputs"]
    assert lm_server.requests[-1].body["temperature"] == 0.5
    assert "Think first." in json.dumps(lm_server.requests[-1].body["messages"])
    listed = (
        await client.get("/modules", params={"program_id": program_id}, headers=acme.auth("viewer"))
    ).json()
    assert [m["name"] for m in listed["items"]] == ["cot"]
    bad = await client.post(f"/programs/{program_id}/modules", json={"name": "x", "signature": "question answer"},
                            headers=acme.auth())  # fmt: skip
    assert bad.status_code == 422
    taken = await client.post(f"/programs/{program_id}/modules", json={"name": "cot", "signature": "a -> b"},
                              headers=acme.auth())  # fmt: skip
    assert taken.status_code == 409


DURATIONS = [0.1, 0.2, 0.3, 0.4, 1.0, 2.0, 5.0]  # seconds; the last one failed


async def test_stats_in_sql_over_a_window(
    client: httpx.AsyncClient, services: Services, acme: TenantKeys
) -> None:
    program = await _post(client, acme, "/programs", {"name": "watched", "spec": SPEC})
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with services.db.transaction() as s:
        for i, duration in enumerate([*DURATIONS, 9.0]):  # the 9 s one is outside the window
            s.add(Trace(tenant_id=acme.tenant_id, program_id=uuid.UUID(program["id"]), name="p", call_id=str(i),
                        status="error" if duration == 5.0 else "ok", started_at=start + timedelta(minutes=i),
                        duration=duration, total_tokens=10, cost=0.5))  # fmt: skip
    window = {"since": start.isoformat(), "until": (start + timedelta(minutes=7)).isoformat()}
    stats = (
        await client.get(f"/programs/{program['id']}/stats", params=window, headers=acme.auth("viewer"))
    ).json()
    assert (stats["executions"], stats["succeeded"], stats["failed"]) == (7, 6, 1)
    assert stats["success_rate"] == pytest.approx(6 / 7)
    assert stats["latency_avg"] == pytest.approx(sum(DURATIONS) / 7)
    # percentile_cont: rank (n - 1) * q, interpolated; the same figures on SQLite and PostgreSQL
    assert stats["latency_p50"] == pytest.approx(0.4)
    assert stats["latency_p95"] == pytest.approx(2.0 + 0.7 * 3.0)
    assert stats["latency_p99"] == pytest.approx(2.0 + 0.94 * 3.0)
    assert (stats["total_tokens"], stats["cost"]) == (70, pytest.approx(3.5))
    everything = (await client.get(f"/programs/{program['id']}/stats", headers=acme.auth())).json()
    assert everything["executions"] == 8
    empty = (await client.get(f"/programs/{program['id']}/stats", params={"until": start.isoformat()},
                              headers=acme.auth())).json()  # fmt: skip
    assert empty["executions"] == 0 and empty["latency_p50"] is None and empty["success_rate"] is None
    naive = await client.get(f"/programs/{program['id']}/stats", params={"since": "2026-01-01T00:00:00"},
                             headers=acme.auth())  # fmt: skip
    assert naive.status_code == 422


async def test_a_failure_mid_stream_ends_with_an_error_event(
    client: httpx.AsyncClient, acme: TenantKeys, lm_server: FakeOpenAIServer
) -> None:
    program_id = await _served(client, acme, lm_server)
    lm_server.fail_next(Fault.bad_request("no streams today"))
    response = await client.post(
        f"/programs/{program_id}/execute/stream", json={"inputs": QUESTION}, headers=acme.auth()
    )
    assert response.status_code == 200
    name, data = _events(response.text)[-1]
    assert name == "error" and data["type"] == "urn:dspy-ash:problem:lm-error" and data["status"] == 502
    assert "no streams today" in data["detail"]


async def test_a_provider_without_a_key_never_borrows_the_servers_own(
    client: httpx.AsyncClient, acme: TenantKeys, lm_server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-servers-own")
    provider = await _post(client, acme, "/providers", {**_provider(lm_server), "kind": "openai"})
    await _post(
        client,
        acme,
        f"/providers/{provider['id']}/generate",
        {"messages": [{"role": "user", "content": "x"}]},
    )
    assert "sk-the-servers-own" not in json.dumps(lm_server.requests[0].headers)


async def test_the_default_provider_and_the_promoted_version_decide_an_execution(
    client: httpx.AsyncClient, acme: TenantKeys, lm_server: FakeOpenAIServer
) -> None:
    """With two providers, execution needs a default; with two versions, the promoted one is served."""
    first = (await _post(client, acme, "/providers", _provider(lm_server, name="first")))["id"]
    second = (await _post(client, acme, "/providers", _provider(lm_server, name="second")))["id"]
    program = (await _post(client, acme, "/programs", {"name": "two", "spec": SPEC}))["id"]
    execute = f"/programs/{program}/execute"
    refused = await client.post(execute, json={"inputs": QUESTION}, headers=acme.auth("editor"))
    assert refused.status_code == 422 and "default" in refused.json()["detail"]
    assert (await _post(client, acme, f"/providers/{second}/default", None))["is_default"] is True
    await _post(client, acme, f"/providers/{first}/default", None)
    listed = (await client.get("/providers", headers=acme.auth())).json()["items"]
    assert {p["name"]: p["is_default"] for p in listed} == {"first": True, "second": False}
    base = f"/programs/{program}/versions"
    wrong = await _post(client, acme, base, {"state": {}})  # saved from some other program
    unfit = await client.post(
        execute, params={"version": wrong["id"]}, json={"inputs": QUESTION}, headers=acme.auth("editor")
    )
    assert unfit.status_code == 422 and "does not fit" in unfit.json()["detail"]
    state = build_program(SPEC).dump_state()
    v1 = await _post(client, acme, base, {"state": state})
    v2 = await _post(client, acme, base, {"state": state})
    ran = await client.post(execute, json={"inputs": QUESTION}, headers=acme.auth("editor"))
    assert ran.status_code == 200, ran.text
    assert ran.json()["version_id"] == v2["id"]  # nothing promoted: the latest
    await _post(client, acme, f"{base}/{v1['id']}/promote", None)
    again = await client.post(execute, json={"inputs": QUESTION}, headers=acme.auth("editor"))
    assert again.json()["version_id"] == v1["id"]
