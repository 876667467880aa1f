"""The one serving route REST cannot derive: an execution streamed as server-sent events.

`POST /programs/{program_id}/execute/stream` (`?version=`, body `{"inputs": {...}}`) is the action
`programs.execute_stream`, called through `invoke` like every derived route, so policy, tenancy and
validation are the action's; refusals before the stream starts (401, 403, 404, 422, 429) are problem
responses. Then the events, each `event: <name>` with one JSON `data:` line:

- `field`: a piece of an output field as the LM writes it, `{"predictor", "field", "chunk", "last"}`;
- `status`: a progress message of the program, `{"message"}`;
- `result`: last, what `POST .../execute` answers (outputs, version, trace id, usage, cost, latency);
- `error`: instead of `result` when the execution fails, the problem document it would have had.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoint's annotations at runtime, and two of
# them are models made in `serving_router`, which a string annotation could not name.
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse

from dspy_ash.actions import Actor, invoke, lookup
from dspy_ash.api._auth import authorizer, services_of
from dspy_ash.api._problems import PROBLEMS, TYPE_PREFIX, problem_responses
from dspy_ash.api._rest import _part_model, route_path  # pyright: ignore[reportPrivateUsage]

logger = logging.getLogger("dspy_ash.api")

STREAM_ACTION = "programs.execute_stream"
EVENT_STREAM = "text/event-stream"


def sse(event: str, data: Any) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _problem(exc: BaseException) -> dict[str, Any]:
    for cls, status, slug, title in PROBLEMS:
        if isinstance(exc, cls):
            return {"type": TYPE_PREFIX + slug, "title": title, "status": status, "detail": str(exc)}
    logger.error("unhandled error in a streamed execution", exc_info=exc)
    return {"type": TYPE_PREFIX + "internal", "title": "Internal error", "status": 500,
            "detail": "the server failed; see its log"}  # fmt: skip


async def _events(source: AsyncIterator[tuple[str, dict[str, Any]]]) -> AsyncIterator[bytes]:
    try:
        async for event, data in source:
            yield sse(event, data)
    except Exception as exc:  # the response has started: the failure travels as the last event
        yield sse("error", _problem(exc))


def serving_router() -> APIRouter:
    action = lookup(STREAM_ACTION)
    body_model = _part_model(action, ["inputs"], "Body")
    query_model = _part_model(action, ["version"], "Query")

    async def execute_stream(
        request: Request,
        actor: Annotated[Actor, Depends(authorizer(action))],
        program_id: Annotated[uuid.UUID, Path()],
        query: Annotated[query_model, Query()],  # pyright: ignore[reportInvalidTypeForm]
        body: Annotated[body_model, Body()],  # pyright: ignore[reportInvalidTypeForm]
    ) -> StreamingResponse:
        data = {"program_id": program_id, **query.model_dump(exclude_unset=True),
                **body.model_dump(exclude_unset=True)}  # fmt: skip
        prepared = await invoke(
            services_of(request), action, actor, data, request_id=request.state.request_id
        )
        return StreamingResponse(_events(prepared.events), media_type=EVENT_STREAM)

    setattr(execute_stream, "__action__", action)  # noqa: B010  (as every derived route)
    router = APIRouter()
    router.add_api_route(
        route_path("/programs/{program_id}/execute/stream", action.input),
        execute_stream,
        methods=["POST"],
        name=action.name,
        operation_id=action.name.replace(".", "_"),
        summary="Execute a program, streaming its output fields as server-sent events.",
        description=(__doc__ or "").split("\n\n", 1)[1].strip() + f"\n\nScope: `{action.scope}`.",
        tags=[action.resource],
        response_class=StreamingResponse,
        responses={200: {"content": {EVENT_STREAM: {}}}, **problem_responses(401, 403, 404, 422, 429)},
    )
    return router


ANSWER_ACTION = "programs.answer"


def answer_router() -> APIRouter:
    """`POST /answer` at the root, as the worked example serves it: the action `programs.answer`."""
    action = lookup(ANSWER_ACTION)

    async def answer(
        request: Request,
        actor: Annotated[Actor, Depends(authorizer(action))],
        body: Annotated[action.input, Body()],  # pyright: ignore[reportInvalidTypeForm]
    ) -> Any:
        return await invoke(services_of(request), action, actor, body, request_id=request.state.request_id)

    setattr(answer, "__action__", action)  # noqa: B010  (as every derived route)
    router = APIRouter()
    router.add_api_route(
        "/answer",
        answer,
        methods=["POST"],
        name=action.name,
        operation_id=action.name.replace(".", "_"),
        summary="Answer a question with the serving version of the answering program.",
        description=f"{action.summary}\n\nScope: `{action.scope}`.",
        tags=[action.resource],
        response_model=action.output,
        responses=problem_responses(400, 401, 403, 404, 413, 422, 429, 504),
    )
    return router
