"""One pooled aiohttp session per event loop, and the HTTP call every provider makes through it.

A `ClientSession` belongs to the loop it was created on, so sessions are kept per loop (a loop that
dies takes its session with it; another loop never sees it). Each session is closed cleanly when its
loop shuts down: it is tied to a tiny async generator, and `asyncio.run()` / `asyncio.Runner` close
every live async generator (`loop.shutdown_asyncgens()`) before closing the loop. Loops that are never
shut down (the sync bridge's loops) keep their session until the interpreter exits, and it is closed then.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import json
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from dspy_ash.errors import LMConnectionError, LMError, LMResponseError, LMTimeoutError
from dspy_ash.lm._http_errors import error_from_response, request_id_from

# 1024 requests in flight must not queue inside the connector; the limiters above decide concurrency.
CONNECTION_LIMIT = 4096

_exit_hook_registered = False
_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopSession] = weakref.WeakKeyDictionary()


class _LoopSession:
    __slots__ = ("keeper", "session")

    def __init__(self, session: aiohttp.ClientSession, keeper: AsyncGenerator[None, None]) -> None:
        self.session = session
        self.keeper = keeper


async def _keep_until_shutdown(session: aiohttp.ClientSession) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await session.close()


async def get_session() -> aiohttp.ClientSession:
    """The running loop's pooled session, created on first use."""
    loop = asyncio.get_running_loop()
    entry = _sessions.get(loop)
    if entry is not None and not entry.session.closed:
        return entry.session
    connector = aiohttp.TCPConnector(
        limit=CONNECTION_LIMIT, limit_per_host=0, ttl_dns_cache=300, enable_cleanup_closed=False
    )
    # timeouts are per request (ClientTimeout on each call), never a session-wide default
    session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))
    keeper = _keep_until_shutdown(session)
    await keeper.__anext__()  # registers the generator with the loop's shutdown_asyncgens
    global _exit_hook_registered
    if not _exit_hook_registered:
        atexit.register(_close_all_at_exit)
        _exit_hook_registered = True
    _sessions[loop] = _LoopSession(session, keeper)
    return session


def _close_all_at_exit() -> None:
    """Close sessions of loops that are still open at exit (no "Unclosed client session" noise)."""
    for loop, entry in list(_sessions.items()):
        if entry.session.closed or loop.is_closed():
            continue
        with contextlib.suppress(Exception):
            if loop.is_running():  # a background loop in a daemon thread
                asyncio.run_coroutine_threadsafe(entry.session.close(), loop).result(timeout=2)
            else:
                loop.run_until_complete(entry.session.close())


async def close_session() -> None:
    """Close the running loop's session now (tests, servers shutting down)."""
    entry = _sessions.pop(asyncio.get_running_loop(), None)
    if entry is not None:
        await entry.session.close()
        await entry.keeper.aclose()


@functools.lru_cache(maxsize=64)
def _timeout(total: float | None) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=total)  # immutable: one per distinct value, not one per request


def _encode(payload: dict[str, Any]) -> bytes:
    # bytes with the Content-Type the providers already set: cheaper than aiohttp's json= payload object
    return json.dumps(payload, ensure_ascii=False).encode()


@dataclass(slots=True)
class HTTPResult:
    status: int
    headers: Mapping[str, str]
    body: bytes


def _connection_error(exc: BaseException, provider: str, model: str) -> LMError:
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return LMTimeoutError("The LM did not answer in time", provider=provider, model=model)
    if isinstance(exc, aiohttp.ClientPayloadError):
        return LMResponseError(
            f"The LM's reply was cut off: {type(exc).__name__}", provider=provider, model=model
        )
    return LMConnectionError(
        f"Could not reach the LM: {type(exc).__name__}: {exc}", provider=provider, model=model
    )


async def post_json(
    url: str,
    payload: dict[str, Any],
    *,
    headers: Mapping[str, str],
    timeout: float | None,
    provider: str,
    model: str,
) -> tuple[dict[str, Any], HTTPResult]:
    """POST JSON; return the decoded reply or raise the typed error for its status and body."""
    session = await get_session()
    try:
        async with session.post(
            url, data=_encode(payload), headers=headers, timeout=_timeout(timeout)
        ) as resp:
            body = await resp.read()
            result = HTTPResult(resp.status, resp.headers, body)
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise _connection_error(exc, provider, model) from exc
    if result.status >= 400:
        raise error_from_response(result.status, result.body, result.headers, provider=provider, model=model)
    try:
        data = json.loads(result.body)
    except ValueError as exc:
        raise _bad_reply(
            f"The LM's reply is not JSON: {result.body[:200]!r}", result, provider, model
        ) from exc
    if not isinstance(data, dict):
        raise _bad_reply("The LM's reply is not a JSON object", result, provider, model)
    return data, result


def _bad_reply(message: str, result: HTTPResult, provider: str, model: str) -> LMResponseError:
    """The error for a reply that arrived whole but cannot be read, with its status and request id."""
    return LMResponseError(
        message,
        status=result.status,
        provider=provider,
        model=model,
        request_id=request_id_from(result.headers),
    )


async def _post_lines(
    url: str,
    payload: dict[str, Any],
    *,
    headers: Mapping[str, str],
    timeout: float | None,
    provider: str,
    model: str,
) -> AsyncIterator[str]:
    """POST and yield the reply's lines as they arrive; an error status or a broken connection is typed."""
    session = await get_session()
    try:
        async with session.post(
            url, data=_encode(payload), headers=headers, timeout=_timeout(timeout)
        ) as resp:
            if resp.status >= 400:
                body = await resp.read()
                raise error_from_response(resp.status, body, resp.headers, provider=provider, model=model)
            async for raw in resp.content:
                yield raw.decode("utf-8").rstrip("\r\n")
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise _connection_error(exc, provider, model) from exc


async def post_sse(
    url: str,
    payload: dict[str, Any],
    *,
    headers: Mapping[str, str],
    timeout: float | None,
    provider: str,
    model: str,
) -> AsyncIterator[tuple[str | None, str]]:
    """POST and yield server-sent events as (event name, data) pairs; errors before the stream are typed."""
    event: str | None = None
    data: list[str] = []
    async for line in _post_lines(
        url, payload, headers=headers, timeout=timeout, provider=provider, model=model
    ):
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = None, []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
    if data:
        yield event, "\n".join(data)


async def post_json_lines(
    url: str,
    payload: dict[str, Any],
    *,
    headers: Mapping[str, str],
    timeout: float | None,
    provider: str,
    model: str,
) -> AsyncIterator[dict[str, Any]]:
    """POST and yield one JSON object per reply line (newline-delimited JSON, as Ollama streams)."""
    async for line in _post_lines(
        url, payload, headers=headers, timeout=timeout, provider=provider, model=model
    ):
        if not line.strip():
            continue
        item = decode_stream_item(line, "line", provider=provider, model=model)
        if not isinstance(item, dict):
            raise LMResponseError(f"Bad stream line: {line[:200]!r}", provider=provider, model=model)
        yield item


def decode_stream_item(text: str, what: str, *, provider: str, model: str) -> Any:
    """One streamed JSON item (an SSE event's data, an NDJSON line); text that is not JSON is an
    LMResponseError that names `what` and quotes the text's start."""
    try:
        return json.loads(text)
    except ValueError as exc:
        raise LMResponseError(f"Bad stream {what}: {text[:200]!r}", provider=provider, model=model) from exc
