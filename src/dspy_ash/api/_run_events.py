"""A run's progress as server-sent events: `GET /optimizer-runs/{run_id}/events` and
`GET /evaluation-runs/{run_id}/events`.

Each is the action `runs.progress`, called through `invoke` as every route is (so a caller who may not
read runs gets a 401, 403 or 404 problem before the stream starts), then again every
`ServiceSettings.run_stream_poll_seconds` while the run goes on. Events, each `event: <name>` with one
JSON `data:` line: `progress` on every change of status, progress, message or score (the first at once),
`end` when the run is succeeded, failed or cancelled (the stream then closes). A comment line every 15
seconds keeps proxies from closing a quiet stream; after `run_stream_seconds` the stream closes and the
client reconnects. The run's state comes from the database, so it is the same whichever process or
machine works on the run.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoint's annotations at runtime.
import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import StreamingResponse

from dspy_ash.actions import Actor, Services, invoke, lookup
from dspy_ash.api._auth import authorizer, services_of
from dspy_ash.api._problems import problem_responses
from dspy_ash.api._serving_routes import EVENT_STREAM, sse

PROGRESS_ACTION = "runs.progress"
_KEEPALIVE_SECONDS = 15.0


async def _events(
    services: Services, actor: Actor, payload: dict[str, Any], first: Any, request_id: str
) -> AsyncIterator[bytes]:
    settings = services.settings
    deadline = time.monotonic() + settings.run_stream_seconds
    state, last, quiet_since = first, None, time.monotonic()
    while True:
        seen = (state.status, state.progress, state.message, state.score)
        if seen != last:
            last, quiet_since = seen, time.monotonic()
            yield sse("progress", state.model_dump(mode="json"))
        elif time.monotonic() - quiet_since >= _KEEPALIVE_SECONDS:
            quiet_since = time.monotonic()
            yield b": keep-alive\n\n"
        if state.terminal:
            yield sse("end", {"status": state.status})
            return
        if time.monotonic() >= deadline:
            return
        await asyncio.sleep(settings.run_stream_poll_seconds)
        state = await invoke(services, PROGRESS_ACTION, actor, payload, request_id=request_id)


def _endpoint(action: Any, kind: str) -> Any:
    async def stream(
        request: Request,
        actor: Annotated[Actor, Depends(authorizer(action))],
        run_id: Annotated[uuid.UUID, Path()],
    ) -> StreamingResponse:
        services = services_of(request)
        payload = {"run_id": run_id, "kind": kind}
        request_id = request.state.request_id
        first = await invoke(
            services, action, actor, payload, request_id=request_id
        )  # a 404 before the stream
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        events = _events(services, actor, payload, first, request_id)
        return StreamingResponse(events, media_type=EVENT_STREAM, headers=headers)

    setattr(stream, "__action__", action)  # noqa: B010  (as every derived route)
    return stream


def run_events_router() -> APIRouter:
    action = lookup(PROGRESS_ACTION)
    router = APIRouter()
    for kind, collection in (("optimizer", "optimizer-runs"), ("evaluation", "evaluation-runs")):
        router.add_api_route(
            f"/{collection}/{{run_id:uuid}}/events",
            _endpoint(action, kind),
            methods=["GET"],
            name=f"{action.name}.{kind}",
            operation_id=f"{kind}_runs_events",
            summary=f"Follow a run's progress as server-sent events ({kind} runs).",
            description=(__doc__ or "").split("\n\n", 1)[1].strip() + f"\n\nScope: `{action.scope}`.",
            tags=[f"{kind}_run"],
            response_class=StreamingResponse,
            responses={200: {"content": {EVENT_STREAM: {}}}, **problem_responses(401, 403, 404, 429)},
        )
    return router
