"""ASGI middleware: a request id on every request and response, an access line and the HTTP metrics
for each, and a bound on request bodies."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dspy_ash.api._metrics import ServiceMetrics, route_template
from dspy_ash.api._problems import PROBLEM_JSON, TYPE_PREFIX

access_logger = logging.getLogger("dspy_ash.access")

REQUEST_ID_HEADER = "x-request-id"
_CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # a caller's id is kept only if it is this tame


class RequestIdMiddleware:
    """`request.state.request_id`: the caller's `X-Request-ID` if it is short and plain, else a new one;
    echoed in the response so a caller can quote it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, REQUEST_ID_HEADER.encode())
        request_id = given if given and _CLIENT_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    h for h in message.get("headers", []) if h[0].lower() != REQUEST_ID_HEADER.encode()
                ]
                message["headers"] = [*headers, (REQUEST_ID_HEADER.encode(), request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)


STAND_IN_HEADER = "x-lm-stand-in"


class StandInMiddleware:
    """Every response says, in `X-LM-Stand-In`, that the service's LM is an offline stand-in (the demo's
    when no LM is configured), so no client takes its answers for a real model's."""

    def __init__(self, app: ASGIApp, *, notice: str) -> None:
        self.app = app
        self.header = (STAND_IN_HEADER.encode(), notice.encode("latin-1", "replace"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_labelled(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, send_labelled)


class ObserveMiddleware:
    """One access line (`dspy_ash.access`, INFO) and one observation of the HTTP metrics per request:
    method, route template, status, duration, request id, and the caller's tenant and key when it gave a
    valid one. Never a header, a body or a query string (they can carry secrets)."""

    def __init__(self, app: ASGIApp, *, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before it starts a response

        async def send_watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_watched)
        finally:
            self.metrics.in_flight.dec()
            self._record(scope, status, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = route_template(scope, self.metrics.prefixes)
        self.metrics.observe(scope["method"], route, status, seconds)
        state: dict[str, Any] = scope.get("state", {})
        actor = state.get("actor")
        subject: str = getattr(actor, "subject", "")
        fields = {
            "method": scope["method"],
            "route": route,
            "path": scope.get("path"),
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "request_id": state.get("request_id"),
            "tenant_id": str(actor.tenant_id) if actor is not None else None,
            "key_id": subject.removeprefix("api_key:") if subject.startswith("api_key:") else None,
        }
        access_logger.info("%s %s %d %.1fms", scope["method"], route, status, seconds * 1000, extra=fields)


class BodyLimitMiddleware:
    """Refuse a body over `max_bytes` with 413: by its Content-Length before reading, and by counting
    while it streams in when that is absent (chunked) or lies, so a huge body is never held in memory."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _too_large(scope, send, self.max_bytes)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # an HTTPException passes FastAPI's body reading untouched and becomes the 413 problem
                    raise HTTPException(413, f"the body exceeds {self.max_bytes} bytes")
            return message

        await self.app(scope, counting_receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _too_large(scope: Scope, send: Send, max_bytes: int) -> None:
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + "too-large",
        "title": "Request body too large",
        "status": 413,
        "detail": f"the body exceeds {max_bytes} bytes",
        "instance": scope.get("path"),
        "request_id": scope.get("state", {}).get("request_id"),
    }
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
