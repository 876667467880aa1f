"""`runProgress(runId)` over WebSocket (graphql-transport-ws): the run's status and progress as the store
changes them, until the run ends. Driven over the ASGI WebSocket protocol in-process (graphql_helpers)."""

from __future__ import annotations

import uuid
from typing import Any

from api_helpers import TenantKeys
from fastapi import FastAPI
from graphql_helpers import AsgiWebSocket

from dspy_ash.actions import Services
from dspy_ash.api._graphql import GRAPHQL_PATH, GraphQLSettings, graphql_router
from dspy_ash.store import repos

SUBSCRIBE = "subscription($id: UUID!) { runProgress(runId: $id) { status progress message terminal } }"


def _app(services: Services, max_subscription_seconds: float = 60.0) -> FastAPI:
    """The GraphQL router alone (as create_app mounts it), looking at runs every 20 ms, not 500."""
    app = FastAPI()
    app.state.services = services
    settings = GraphQLSettings(run_poll_seconds=0.02, max_subscription_seconds=max_subscription_seconds)
    app.include_router(graphql_router(settings))
    return app


async def _run(services: Services, tenant: TenantKeys) -> uuid.UUID:
    async with services.db.transaction() as s:
        program = await repos.programs.create_program(
            s, tenant_id=tenant.tenant_id, actor="test", name="qa", source="a.b:C"
        )
        await s.flush()
        run = await repos.runs.create_optimizer_run(
            s, tenant_id=tenant.tenant_id, actor="test", program_id=program.id, optimizer="BootstrapFewShot"
        )
        await s.flush()
        return run.id


async def _connect(ws: AsgiWebSocket, payload: dict[str, str] | None) -> dict[str, Any]:
    await ws.send({"type": "connection_init", "payload": payload or {}})
    return await ws.receive()


async def _next(ws: AsgiWebSocket) -> dict[str, Any]:
    message = await ws.receive()
    assert message["type"] == "next", message
    return message["payload"]["data"]["runProgress"]


async def _progress(
    services: Services, tenant: TenantKeys, run_id: uuid.UUID, value: float, note: str
) -> None:
    async with services.db.transaction() as s:
        await repos.runs.report_progress(
            s, tenant_id=tenant.tenant_id, kind="optimizer", run_id=run_id, progress=value, message=note
        )


async def _move(services: Services, tenant: TenantKeys, run_id: uuid.UUID, to: str) -> None:
    async with services.db.transaction() as s:
        await repos.runs.transition(
            s, tenant_id=tenant.tenant_id, actor="worker", kind="optimizer", run_id=run_id, to=to
        )


async def test_run_progress_until_the_run_ends(services: Services, acme: TenantKeys) -> None:
    run_id = await _run(services, acme)
    async with AsgiWebSocket(_app(services), GRAPHQL_PATH, ["graphql-transport-ws"]) as ws:
        assert ws.subprotocol == "graphql-transport-ws"
        assert (await _connect(ws, {"Authorization": acme.auth("viewer")["Authorization"]}))[
            "type"
        ] == "connection_ack"
        await ws.send(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": SUBSCRIBE, "variables": {"id": str(run_id)}},
            }
        )
        assert await _next(ws) == {"status": "queued", "progress": 0.0, "message": "", "terminal": False}
        await _move(services, acme, run_id, "running")
        assert (await _next(ws))["status"] == "running"
        await _progress(services, acme, run_id, 0.25, "trial 1 of 4")
        assert await _next(ws) == {
            "status": "running",
            "progress": 0.25,
            "message": "trial 1 of 4",
            "terminal": False,
        }
        await _progress(services, acme, run_id, 0.75, "trial 3 of 4")
        assert (await _next(ws))["progress"] == 0.75
        await _move(services, acme, run_id, "succeeded")
        assert await _next(ws) == {
            "status": "succeeded",
            "progress": 1.0,
            "message": "trial 3 of 4",
            "terminal": True,
        }
        assert await ws.receive() == {"id": "1", "type": "complete"}


async def test_subscription_needs_a_key_and_the_tenants_run(
    services: Services, acme: TenantKeys, globex: TenantKeys
) -> None:
    run_id = await _run(services, acme)
    subscribe = {"type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": {"id": str(run_id)}}}
    cases = [(None, "UNAUTHENTICATED"), (globex.auth("admin"), "NOT_FOUND")]
    for headers, code in cases:
        async with AsgiWebSocket(_app(services), GRAPHQL_PATH, ["graphql-transport-ws"], headers) as ws:
            assert (await _connect(ws, None))["type"] == "connection_ack"
            await ws.send({"id": "1", **subscribe})
            message = await ws.receive()
            assert message["type"] in ("next", "error"), message
            errors = message["payload"]["errors"] if message["type"] == "next" else message["payload"]
            assert [e["extensions"]["code"] for e in errors] == [code], message
            assert str(acme.tenant_id) not in str(message)


async def test_a_subscription_ends_at_its_time_limit(services: Services, acme: TenantKeys) -> None:
    run_id = await _run(services, acme)  # queued, and nothing will ever run it
    app = _app(services, max_subscription_seconds=0.1)
    async with AsgiWebSocket(app, GRAPHQL_PATH, ["graphql-transport-ws"], acme.auth("viewer")) as ws:
        assert (await _connect(ws, None))["type"] == "connection_ack"
        variables = {"id": str(run_id)}
        await ws.send(
            {"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": variables}}
        )
        assert (await _next(ws))["status"] == "queued"
        assert await ws.receive(timeout=5) == {"id": "1", "type": "complete"}
