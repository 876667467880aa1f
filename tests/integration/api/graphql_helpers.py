"""Shared by the GraphQL tests: a client for `/graphql`, and an in-process WebSocket to the ASGI app.

No WebSocket server library (websockets, wsproto) is installed for uvicorn, so subscriptions are tested
over the ASGI WebSocket protocol itself: the app gets the same `websocket.*` messages a server would
hand it, on the test's event loop (which the database's connections belong to).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx
from api_helpers import TenantKeys

from dspy_ash.api._graphql import GRAPHQL_PATH


@dataclass(frozen=True)
class GraphQLClient:
    http: httpx.AsyncClient

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        tenant: TenantKeys | None = None,
        role: str = "admin",
    ) -> dict[str, Any]:
        """The response's JSON (data and errors); any HTTP status but 200 fails."""
        response = await self.raw(query, variables, tenant=tenant, role=role)
        assert response.status_code == 200, response.text
        return response.json()

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, *, tenant: TenantKeys | None, role: str
    ) -> httpx.Response:
        headers = {} if tenant is None else tenant.auth(role)
        body = {"query": query, "variables": variables or {}}
        return await self.http.post(f"http://test{GRAPHQL_PATH}", json=body, headers=headers)


def codes(result: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in result.get("errors") or []]


class AsgiWebSocket:
    """`async with AsgiWebSocket(app, "/graphql", ["graphql-transport-ws"]) as ws:` then `send`/`receive`."""

    def __init__(self, app: Any, path: str, subprotocols: list[str], headers: dict[str, str] | None = None):
        self.app = app
        self.scope: dict[str, Any] = {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"test"),
                *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
            ],
            "subprotocols": subprotocols,
            "client": ("127.0.0.1", 50000),
            "server": ("test", 80),
        }
        self._to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.subprotocol: str | None = None

    async def __aenter__(self) -> AsgiWebSocket:
        self._task = asyncio.create_task(self.app(self.scope, self._to_app.get, self._from_app.put))
        await self._to_app.put({"type": "websocket.connect"})
        accepted = await asyncio.wait_for(self._from_app.get(), 5)
        assert accepted["type"] == "websocket.accept", accepted
        self.subprotocol = accepted.get("subprotocol")
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self._to_app.put({"type": "websocket.disconnect", "code": 1000})
        assert self._task is not None
        await asyncio.wait_for(self._task, 5)

    async def send(self, message: dict[str, Any]) -> None:
        await self._to_app.put({"type": "websocket.receive", "text": json.dumps(message)})

    async def receive(self, timeout: float = 10) -> dict[str, Any]:
        """The app's next message; a close is returned as {"type": "close", "code": ...}."""
        message = await asyncio.wait_for(self._from_app.get(), timeout)
        if message["type"] == "websocket.close":
            return {"type": "close", "code": message.get("code")}
        assert message["type"] == "websocket.send", message
        return json.loads(message["text"])
