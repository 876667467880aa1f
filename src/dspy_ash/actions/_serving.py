"""Serving: run a stored program's serving version with inputs, under the tenant's default provider, traced.

`programs.execute` answers with the outputs, the version, the trace id, usage, cost and latency.
`programs.execute_stream` prepares the same execution and hands back its events, for the server-sent
events route (api/_serving_routes.py): one `field` event per piece of an output field as the LM writes
it, `status` events for the program's progress messages, and last one `result` event carrying what
`programs.execute` returns (or one `error` event).

Neither holds a transaction while the LM works: the program, version and provider are read in one short
transaction first. Executions in flight are bounded per program (`ServiceSettings.program_concurrency`,
BusyError above it) and in time (`ServiceSettings.execute_timeout`, ActionTimeoutError after it).
Built modules are kept per version, so a served version is instantiated once per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.actions._context import ActionContext, Services
from dspy_ash.actions._errors import ActionTimeoutError, BusyError
from dspy_ash.actions._lm_resolution import default_provider, provider_lm
from dspy_ash.actions._registry import Http, action
from dspy_ash.actions._schemas import Public, Request
from dspy_ash.actions._tracing import TracedCall, Usage, traced_call
from dspy_ash.lm import LM
from dspy_ash.modules import StatusMessage, StreamListener, StreamResponse, streamify
from dspy_ash.primitives import Prediction
from dspy_ash.programs import instantiate
from dspy_ash.store import InvalidSpecError, NotFoundError, repos
from dspy_ash.store._jsonable import to_jsonable
from dspy_ash.store.models import Program, ProgramVersion

_MODULES = "serving.modules"
_IN_FLIGHT = "serving.in_flight"
_MAX_MODULES = 256  # built modules kept; the least recently used one goes first


class ExecuteRequest(Request):
    program_id: uuid.UUID
    version: uuid.UUID | None = Field(None, description="a version of the program; else its serving version")
    inputs: dict[str, Any] = Field(max_length=100, description="the program's input fields")


class ExecutionPublic(Public):
    outputs: dict[str, Any]
    program_id: uuid.UUID
    version_id: uuid.UUID | None
    version_number: int | None
    trace_id: uuid.UUID = Field(description="the execution's trace (GET /traces/{id} once written)")
    usage: Usage
    cost: float | None
    latency: float = Field(description="seconds")


class ExecutionStream(Public):
    """An execution prepared to stream; `events` yields (event name, JSON data) pairs, the result last."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    events: Any = Field(exclude=True)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What an execution needs, read in one short transaction."""

    program_id: uuid.UUID
    version_id: uuid.UUID | None
    version_number: int | None
    module: Any
    lm: LM


async def serving_version(
    session: AsyncSession, *, tenant_id: uuid.UUID, program_id: uuid.UUID, version_id: uuid.UUID | None
) -> ProgramVersion | None:
    """The version to run: the one asked for (if it is this program's), else the promoted one, else the
    latest; None for a program without versions (it runs with no saved state)."""
    if version_id is not None:
        version = await repos.versions.get_version(session, tenant_id=tenant_id, version_id=version_id)
        if version.program_id != program_id:
            raise NotFoundError("program_version", version_id)
        return version
    await repos.programs.get_program(session, tenant_id=tenant_id, program_id=program_id)
    try:
        return await repos.versions.serving_version(session, tenant_id=tenant_id, program_id=program_id)
    except NotFoundError:
        return None


def check_importable(services: Services, source: str, *, location: str) -> None:
    """Code (a program's class, a custom module's) is imported only from the modules the operator allows."""
    module_name = source.partition(":")[0]
    allowed = services.settings.program_modules
    if not any(module_name == m or module_name.startswith(m + ".") for m in allowed):
        raise InvalidSpecError(
            f"module {module_name!r} is not one the service may import "
            "(ServiceSettings.program_modules / DSPY_ASH_PROGRAM_MODULES)",
            location=location,
        )


def _module_for(services: Services, program: Program, version: ProgramVersion | None) -> Any:
    """The engine module of this version (or of the program as it stands, without one), built once."""
    cache: OrderedDict[Any, Any] = services.extras.setdefault(_MODULES, OrderedDict())
    key = version.id if version is not None else (program.id, program.updated_at)
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    cache[key] = module = build_module(services, program, version)
    if len(cache) > _MAX_MODULES:
        cache.popitem(last=False)
    return module


def build_module(services: Services, program: Program, version: ProgramVersion | None) -> Any:
    """A new engine module of this version (or of the program as it stands, without one)."""
    if program.kind == "code":
        check_importable(services, program.source or "", location=program.name)
    try:
        module = instantiate(program)
    except (ImportError, AttributeError) as exc:  # an allowed module without that class, or a typo
        raise InvalidSpecError(f"cannot load {program.source!r}: {exc}", location=program.name) from None
    if version is not None:
        try:
            module.load_state(version.state)
        except (KeyError, ValueError, TypeError) as exc:  # a state saved from another program
            where = f"version {version.number} of {program.name}"
            raise InvalidSpecError(
                f"the saved state does not fit the program: {exc}", location=where
            ) from None
    return module


async def _plan(ctx: ActionContext, request: ExecuteRequest) -> _Plan:
    async with ctx.transaction() as session:
        program = await repos.programs.get_program(
            session, tenant_id=ctx.tenant_id, program_id=request.program_id
        )
        version = await serving_version(
            session, tenant_id=ctx.tenant_id, program_id=program.id, version_id=request.version
        )
        provider = await default_provider(session, tenant_id=ctx.tenant_id)
        lm = await provider_lm(ctx.services, session, provider=provider)
    module = _module_for(ctx.services, program, version)
    number = None if version is None else version.number
    return _Plan(program.id, None if version is None else version.id, number, module, lm)


def _check_capacity(services: Services, program_id: uuid.UUID) -> None:
    in_flight: dict[uuid.UUID, int] = services.extras.setdefault(_IN_FLIGHT, {})
    limit = services.settings.program_concurrency
    if in_flight.get(program_id, 0) >= limit:
        raise BusyError(f"the program already runs {limit} executions; retry shortly", retry_after=1.0)


@asynccontextmanager
async def _slot(services: Services, program_id: uuid.UUID) -> AsyncGenerator[None]:
    """One of the program's execution slots for the block (BusyError when none is free)."""
    _check_capacity(services, program_id)
    in_flight: dict[uuid.UUID, int] = services.extras[_IN_FLIGHT]
    in_flight[program_id] = in_flight.get(program_id, 0) + 1
    try:
        yield
    finally:
        in_flight[program_id] -= 1
        if not in_flight[program_id]:
            del in_flight[program_id]


@asynccontextmanager
async def time_limit(services: Services) -> AsyncGenerator[None]:
    seconds = services.settings.execute_timeout
    limit = asyncio.timeout(seconds)
    try:
        async with limit:
            yield
    except TimeoutError:
        if limit.expired():  # our limit, not an LM's own timeout (that is an LMError)
            raise ActionTimeoutError(f"the execution did not finish within {seconds:g} seconds") from None
        raise


def execution_outputs(prediction: Any) -> dict[str, Any]:
    values = prediction.toDict() if isinstance(prediction, Prediction) else {"output": prediction}
    return to_jsonable(values)


def _result(plan: _Plan, call: TracedCall, prediction: Any) -> ExecutionPublic:
    return ExecutionPublic(
        outputs=execution_outputs(prediction),
        program_id=plan.program_id,
        version_id=plan.version_id,
        version_number=plan.version_number,
        trace_id=call.trace_id,
        usage=call.usage,
        cost=call.cost,
        latency=call.latency,
    )


@action("programs.execute", resource="program", kind="action", scope="programs:execute",
        http=Http("POST", "/programs/{program_id}/execute", query=("version",)),
        audited=False, transactional=False)  # fmt: skip
async def execute_program(ctx: ActionContext, request: ExecuteRequest) -> ExecutionPublic:
    """Run the program's serving version (or `?version=`) with `inputs` under the tenant's default
    provider; the outputs come back with the version, the trace id, usage, cost and latency.
    429 when the program runs its limit of executions, 504 when one runs out of time."""
    plan = await _plan(ctx, request)
    async with (
        _slot(ctx.services, plan.program_id),
        traced_call(ctx, plan.lm, program_id=plan.program_id, version_id=plan.version_id) as call,
        time_limit(ctx.services),
    ):
        prediction = await plan.module.acall(**request.inputs)
    return _result(plan, call, prediction)


def _listeners(module: Any) -> list[StreamListener]:
    """A listener for every output field of every predictor (so each field streams as it is written)."""
    listeners: list[StreamListener] = []
    for name, predictor in module.named_predictors():
        for field_name in predictor.signature.output_fields:
            listeners.append(StreamListener(field_name, predict=predictor, predict_name=name))
    return listeners


def _event(item: Any) -> tuple[str, dict[str, Any]] | None:
    if isinstance(item, StreamResponse):
        data = {"predictor": item.predict_name, "field": item.signature_field_name,
                "chunk": to_jsonable(item.chunk), "last": item.is_last_chunk}  # fmt: skip
        return "field", data
    if isinstance(item, StatusMessage):
        return "status", {"message": item.message}
    return None


async def _produce(
    ctx: ActionContext, plan: _Plan, inputs: Mapping[str, Any], queue: asyncio.Queue[Any]
) -> None:
    """Run the execution, putting its events on `queue`, then the result (or the error), then None."""
    prediction: Any = None
    try:
        async with (
            _slot(ctx.services, plan.program_id),
            traced_call(ctx, plan.lm, program_id=plan.program_id, version_id=plan.version_id) as call,
            time_limit(ctx.services),
        ):
            # streamify reads the configured callbacks when it wraps: inside traced_call, so the recorder sees it
            stream = streamify(plan.module, stream_listeners=_listeners(plan.module), is_async_program=True)
            async for item in stream(**inputs):
                if isinstance(item, Prediction):
                    prediction = item
                elif (event := _event(item)) is not None:
                    queue.put_nowait(event)
        queue.put_nowait(("result", _result(plan, call, prediction).model_dump(mode="json")))
    except Exception as exc:
        queue.put_nowait(exc)
    finally:
        queue.put_nowait(None)


async def _stream_events(
    ctx: ActionContext, plan: _Plan, inputs: Mapping[str, Any]
) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """The events of an execution run in a task of its own: its settings, trace context and time limit
    stay inside it, whoever consumes the events and whenever they stop."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    task = asyncio.create_task(_produce(ctx, plan, inputs, queue))
    try:
        while (item := await queue.get()) is not None:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        if not task.done():  # the client went away: stop the execution too
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@action("programs.execute_stream", resource="program", kind="action", scope="programs:execute",
        audited=False, transactional=False)  # fmt: skip
async def execute_program_stream(ctx: ActionContext, request: ExecuteRequest) -> ExecutionStream:
    """Prepare an execution whose output fields stream as they are written (`POST .../execute/stream`)."""
    plan = await _plan(ctx, request)
    _check_capacity(
        ctx.services, plan.program_id
    )  # refuse before the response starts; the stream takes the slot
    return ExecutionStream(events=_stream_events(ctx, plan, dict(request.inputs)))
