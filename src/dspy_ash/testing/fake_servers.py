"""Fake LM provider servers on 127.0.0.1 that speak the real wire formats, for tests over real sockets.

    async with FakeOpenAIServer(script=["[[ ## answer ## ]]\\n4\\n\\n[[ ## completed ## ]]"]) as server:
        lm = LM("openai/gpt-4o-mini", api_base=server.api_base, api_key="sk-test")
        ...
        assert server.requests[0].headers["Authorization"] == "Bearer sk-test"

    with FakeAnthropicServer() as server:   # from sync tests: the server runs on its own thread
        ...

`FakeCohereServer` speaks Cohere's Chat v2; its `api_base` is the bare address (`/v2/chat` is the route).

What a server answers, in order: a queued fault (`server.fail_next(Fault.rate_limit(retry_after=2))`),
else the next item of `script` (text, a `Reply` or a `Fault`), else `handler(body)`, else an echo that
fills every DSPy output field the last user message asks for ("[[ ## field ## ]]" markers after
"Respond with the corresponding output fields"). Replies carry usage and a request id; `latency`
delays every reply; `stream=true` requests get server-sent events.

`FakeOpenAIServer` also answers `/v1/embeddings` in OpenAI's wire format: queued faults first, else one
vector per input from `embedding` (default `hashed_embedding`: word counts hashed into 16 buckets, so
texts sharing words are near), with usage counting one token per word.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Self

from aiohttp import web

_FIELD = re.compile(r"\[\[ ## (\w+) ## \]\]")
_INPUT = re.compile(r"\[\[ ## (\w+) ## \]\]\n(.*?)(?=\n\n|\n*\Z)", re.DOTALL)
_JSON_FIELDS = re.compile(r"following order of fields: (.*?)\.?$", re.MULTILINE)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def echo_fields(messages: list[dict[str, Any]], json_mode: bool = False) -> str:
    """A reply that answers every output field the last user message requests, in ChatAdapter format
    (or as a JSON object when `json_mode`). Each value names its field and the first paragraph of the
    first input's value."""
    last = next((_text_of(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    head, marker, tail = last.partition("Respond with the corresponding output fields")
    names = [n for n in _FIELD.findall(tail)] if marker else []
    json_fields = _JSON_FIELDS.search(last)
    if not marker and json_fields:  # JSONAdapter: "... in the following order of fields: `a`, then `b`."
        head, names = last[: json_fields.start()], re.findall(r"`(\w+)`", json_fields.group(1))
        json_mode = True  # asked for JSON in words: a model answers in JSON even without response_format
    names = [n for n in dict.fromkeys(names) if n != "completed"] or ["answer"]
    inputs = dict(_INPUT.findall(head))
    subject = next(iter(inputs.values()), "").strip()[:60]
    values = {n: f"{n} for {subject}" if subject else n for n in names}
    if json_mode:
        return json.dumps(values)
    return "".join(f"[[ ## {k} ## ]]\n{v}\n\n" for k, v in values.items()) + "[[ ## completed ## ]]"


@dataclass
class Reply:
    """A successful reply. `usage` overrides the computed token counts (keys as the provider names them)."""

    text: str | None = ""
    tool_calls: list[dict[str, Any]] | None = None
    citations: list[dict[str, Any]] | None = None  # Anthropic: attached to the text block
    usage: dict[str, int] | None = None
    delay: float = 0.0
    stream_error_after: int | None = None  # streamed: send this many chunks, then the provider's error event
    chunks: list[str] | None = None  # streamed: exactly these text deltas (else `stream_chunk_chars` pieces)

    def __post_init__(self) -> None:
        if self.chunks is not None and not self.text:
            self.text = "".join(self.chunks)  # the same reply when the request is not streamed


FaultKind = Literal["http", "truncated", "non_json", "disconnect"]


@dataclass
class Fault:
    """A failure to inject. Build them with the class methods."""

    kind: FaultKind = "http"
    status: int = 500
    message: str = "injected server error"
    error_type: str = "server_error"
    code: str | None = None
    headers: dict[str, str] = field(default_factory=dict[str, str])
    delay: float = 0.0

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls(status=status)

    @classmethod
    def rate_limit(cls, retry_after: float | str | None = None, retry_after_ms: float | None = None) -> Fault:
        headers: dict[str, str] = {}
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        if retry_after_ms is not None:
            headers["retry-after-ms"] = str(retry_after_ms)
        return cls(status=429, message="Rate limit reached", error_type="rate_limit_error", headers=headers)

    @classmethod
    def unauthorized(cls) -> Fault:
        return cls(
            status=401,
            message="Incorrect API key provided",
            error_type="authentication_error",
            code="invalid_api_key",
        )

    @classmethod
    def forbidden(cls) -> Fault:
        return cls(status=403, message="Permission denied", error_type="permission_error")

    @classmethod
    def not_found(cls) -> Fault:
        return cls(
            status=404,
            message="The model does not exist",
            error_type="not_found_error",
            code="model_not_found",
        )

    @classmethod
    def billing(cls) -> Fault:
        return cls(status=402, message="Payment required", error_type="billing_error")

    @classmethod
    def bad_request(cls, message: str = "Invalid parameter") -> Fault:
        return cls(status=400, message=message, error_type="invalid_request_error")

    @classmethod
    def context_length(cls) -> Fault:
        return cls(
            status=400,
            error_type="invalid_request_error",
            code="context_length_exceeded",
            message="This model's maximum context length is 8192 tokens. However, your messages "
            "resulted in 9000 tokens. Please reduce the length of the messages.",
        )

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Answer normally, but only after `seconds` (for client timeouts)."""
        return cls(kind="http", status=200, delay=seconds)

    @classmethod
    def truncated(cls) -> Fault:
        return cls(kind="truncated", status=200)

    @classmethod
    def non_json(cls) -> Fault:
        return cls(kind="non_json", status=200)

    @classmethod
    def disconnect(cls) -> Fault:
        return cls(kind="disconnect")


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes


Handler = Callable[[dict[str, Any]], "str | Reply | Fault"]


class _FakeServer:
    request_id_header = "x-request-id"
    api_prefix = "/v1"

    def __init__(
        self,
        script: Iterable[str | Reply | Fault] | None = None,
        *,
        handler: Handler | None = None,
        latency: float = 0.0,
        model: str | None = None,
        require_key: str | None = None,
        stream_chunk_chars: int = 8,
        record_requests: bool = True,
    ) -> None:
        self.record_requests = record_requests  # off for a long-lived server (the demo's stand-in)
        self.script: deque[str | Reply | Fault] = deque(script or [])
        self.handler = handler
        self.latency = latency
        self.model = model
        self.require_key = require_key
        self.stream_chunk_chars = stream_chunk_chars
        self.requests: list[RecordedRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._faults: deque[Fault] = deque()
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        self.port = 0

    # -- configuration ----------------------------------------------------------------------------
    def fail_next(self, *faults: Fault) -> None:
        """Answer the next requests with these faults, in order, before anything else."""
        self._faults.extend(faults)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return self.url + self.api_prefix

    # -- lifecycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __enter__(self) -> Self:
        """Run on a private loop in a thread, for sync tests."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start())
            ready.set()
            loop.run_forever()

        self._thread_loop = loop
        self._thread = threading.Thread(target=run, name="fake-lm-server", daemon=True)
        self._thread.start()
        ready.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        loop, thread = self._thread_loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.stop(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
        self._thread_loop = self._thread = None

    # -- serving ----------------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        if self.record_requests:
            self.requests.append(
                RecordedRequest(request.method, request.path, dict(request.headers), body, raw)
            )
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._answer(request, body)
        finally:
            self.in_flight -= 1

    def _next_action(self, body: dict[str, Any]) -> str | Reply | Fault:
        if self._faults:
            return self._faults.popleft()
        if self.script:
            return self.script.popleft()
        if self.handler is not None:
            return self.handler(body)
        return echo_fields(body.get("messages") or [], json_mode=self._json_mode(body))

    def _json_mode(self, body: dict[str, Any]) -> bool:
        return (body.get("response_format") or {}).get("type") in ("json_object", "json_schema")

    def _authorized(self, request: web.Request) -> bool:
        raise NotImplementedError

    async def _answer(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        request_id = f"req_{next(self._ids)}"
        headers = {self.request_id_header: request_id}
        if self.require_key is not None and not self._authorized(request):
            action: str | Reply | Fault = Fault.unauthorized()
        elif not self._is_route(request.path):
            action = Fault.not_found()
        else:
            action = self._next_action(body)
        delay = self.latency + (action.delay if isinstance(action, Reply | Fault) else 0.0)
        if delay:
            await asyncio.sleep(delay)
        if isinstance(action, Fault) and not (action.kind == "http" and action.status == 200):
            return await self._fault(request, action, headers)
        reply = (
            action
            if isinstance(action, Reply)
            else Reply(text=action)
            if isinstance(action, str)
            else Reply(text=echo_fields(body.get("messages") or [], self._json_mode(body)))
        )
        if body.get("stream"):
            return await self._stream(request, body, reply, headers)
        return web.json_response(self._completion(body, reply, request_id), headers=headers)

    async def _fault(self, request: web.Request, fault: Fault, headers: dict[str, str]) -> web.StreamResponse:
        if fault.kind == "non_json":
            return web.Response(
                status=200, text="<html>502 Bad Gateway</html>", content_type="text/html", headers=headers
            )
        assert request.transport is not None
        if fault.kind == "disconnect":  # the connection drops before any reply
            request.transport.close()
            return web.Response()
        if fault.kind == "truncated":  # headers promise 4096 bytes; the connection drops after a few
            response = web.StreamResponse(
                status=200, headers={**headers, "Content-Type": "application/json", "Content-Length": "4096"}
            )
            await response.prepare(request)
            await response.write(b'{"id": "chatcmpl-1", "object": "chat.completion", "choi')
            request.transport.close()
            return response
        return web.json_response(
            self._error_body(fault), status=fault.status, headers={**headers, **fault.headers}
        )

    async def _stream(
        self, request: web.Request, body: dict[str, Any], reply: Reply, headers: dict[str, str]
    ) -> web.StreamResponse:
        response = web.StreamResponse(status=200, headers={**headers, "Content-Type": "text/event-stream"})
        await response.prepare(request)
        text = reply.text or ""
        size = self.stream_chunk_chars
        chunks = (
            reply.chunks
            if reply.chunks is not None
            else [text[i : i + size] for i in range(0, len(text), size)]
        )
        events = self._stream_open(body)
        if reply.stream_error_after is None:
            events += [self._stream_chunk(body, c) for c in chunks] + self._stream_close(body, len(chunks))
        else:
            events += [self._stream_chunk(body, c) for c in chunks[: reply.stream_error_after]]
            events.append(self._stream_error())
        for event, data in events:
            prefix = f"event: {event}\n" if event else ""
            await response.write(f"{prefix}data: {data}\n\n".encode())
        await response.write_eof()
        return response

    def _usage_counts(self, body: dict[str, Any], reply: Reply) -> tuple[int, int]:
        prompt_chars = sum(len(_text_of(m.get("content"))) for m in body.get("messages") or [])
        prompt_chars += len(_text_of(body.get("system")))
        return max(1, prompt_chars // 4), max(1, len(reply.text or "") // 4)

    # -- wire format (per provider) ---------------------------------------------------------------
    def _is_route(self, path: str) -> bool:
        raise NotImplementedError

    def _completion(self, body: dict[str, Any], reply: Reply, request_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def _error_body(self, fault: Fault) -> dict[str, Any]:
        raise NotImplementedError

    def _stream_open(self, body: dict[str, Any]) -> list[tuple[str | None, str]]:
        return []

    def _stream_chunk(self, body: dict[str, Any], chunk: str) -> tuple[str | None, str]:
        raise NotImplementedError

    def _stream_close(self, body: dict[str, Any], chunks: int) -> list[tuple[str | None, str]]:
        raise NotImplementedError

    def _stream_error(self) -> tuple[str | None, str]:
        raise NotImplementedError


EMBEDDING_DIMENSIONS = 16


def hashed_embedding(text: str) -> list[float]:
    """A deterministic toy embedding: each word adds 1 to one of 16 buckets chosen by its hash."""
    vector = [0.0] * EMBEDDING_DIMENSIONS
    for word in text.lower().split():
        vector[int.from_bytes(hashlib.sha256(word.encode()).digest()[:4], "big") % EMBEDDING_DIMENSIONS] += (
            1.0
        )
    return vector


class FakeOpenAIServer(_FakeServer):
    """OpenAI chat completions at `/v1/chat/completions` and embeddings at `/v1/embeddings` (also
    without the `/v1` prefix)."""

    def __init__(
        self,
        script: Iterable[str | Reply | Fault] | None = None,
        *,
        embedding: Callable[[str], list[float]] = hashed_embedding,
        **options: Any,
    ) -> None:
        super().__init__(script, **options)
        self.embedding = embedding

    def _is_route(self, path: str) -> bool:
        return path.endswith("/chat/completions")

    async def _answer(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        if not request.path.endswith("/embeddings"):
            return await super()._answer(request, body)
        request_id = f"req_{next(self._ids)}"
        headers = {self.request_id_header: request_id}
        fault = (
            Fault.unauthorized()
            if self.require_key is not None and not self._authorized(request)
            else self._faults.popleft()
            if self._faults
            else None
        )
        delay = self.latency + (fault.delay if fault is not None else 0.0)
        if delay:
            await asyncio.sleep(delay)
        if fault is not None and not (fault.kind == "http" and fault.status == 200):
            return await self._fault(request, fault, headers)
        raw_input = body.get("input")
        texts = [raw_input] if isinstance(raw_input, str) else [str(t) for t in raw_input or []]
        tokens = sum(len(t.split()) for t in texts)
        reply = {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": self.embedding(text)}
                for i, text in enumerate(texts)
            ],
            "model": self.model or body.get("model", "fake"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return web.json_response(reply, headers=headers)

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.require_key}"

    def _completion(self, body: dict[str, Any], reply: Reply, request_id: str) -> dict[str, Any]:
        prompt, completion = self._usage_counts(body, reply)
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        usage.update(reply.usage or {})
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if reply.tool_calls:
            message["tool_calls"] = reply.tool_calls
        n = int(body.get("n") or 1)
        return {
            "id": f"chatcmpl-{request_id}",
            "object": "chat.completion",
            "created": 0,
            "model": self.model or body.get("model", "fake"),
            "choices": [
                {
                    "index": i,
                    "message": message,
                    "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                    "logprobs": None,
                }
                for i in range(n)
            ],
            "usage": usage,
        }

    def _error_body(self, fault: Fault) -> dict[str, Any]:
        return {
            "error": {"message": fault.message, "type": fault.error_type, "param": None, "code": fault.code}
        }

    def _stream_chunk(self, body: dict[str, Any], chunk: str) -> tuple[str | None, str]:
        return None, json.dumps(
            {
                "object": "chat.completion.chunk",
                "model": self.model or body.get("model", "fake"),
                "choices": [{"index": 0, "delta": {"content": chunk}}],
            }
        )

    def _stream_close(self, body: dict[str, Any], chunks: int) -> list[tuple[str | None, str]]:
        last = {
            "object": "chat.completion.chunk",
            "model": self.model or body.get("model", "fake"),
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        }
        return [(None, json.dumps(last)), (None, "[DONE]")]

    def _stream_error(self) -> tuple[str | None, str]:
        return None, json.dumps(
            {
                "error": {
                    "message": "The server had an error while processing your request.",
                    "type": "server_error",
                }
            }
        )


class FakeAnthropicServer(_FakeServer):
    """Anthropic Messages at `/v1/messages`; requires `anthropic-version`; errors in Anthropic's shape."""

    request_id_header = "request-id"

    def __init__(
        self,
        script: Iterable[str | Reply | Fault] | None = None,
        *,
        cache_read_tokens: int = 0,
        cache_creation_tokens: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(script, **kwargs)
        self.cache_read_tokens = cache_read_tokens
        self.cache_creation_tokens = cache_creation_tokens

    def _is_route(self, path: str) -> bool:
        return path.endswith("/messages")

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("x-api-key") == self.require_key

    async def _answer(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        if "anthropic-version" not in request.headers:
            return web.json_response(
                self._error_body(Fault.bad_request("anthropic-version header is required")), status=400
            )
        refused = _anthropic_content_error(body.get("messages") or [])
        if refused:
            return web.json_response(self._error_body(Fault.bad_request(refused)), status=400)
        if any(m.get("role") == "system" for m in body.get("messages") or []):
            # the real API refuses system messages in the list; the system prompt is a top-level field
            return web.json_response(
                self._error_body(
                    Fault.bad_request(
                        'messages: Unexpected role "system". Use the top-level `system` parameter.'
                    )
                ),
                status=400,
            )
        return await super()._answer(request, body)

    def _completion(self, body: dict[str, Any], reply: Reply, request_id: str) -> dict[str, Any]:
        prompt, completion = self._usage_counts(body, reply)
        usage: dict[str, Any] = {
            "input_tokens": prompt,
            "output_tokens": completion,
            "cache_read_input_tokens": self.cache_read_tokens,
            "cache_creation_input_tokens": self.cache_creation_tokens,
        }
        usage.update(reply.usage or {})
        text_block: dict[str, Any] = {"type": "text", "text": reply.text or ""}
        if reply.citations is not None:
            text_block["citations"] = reply.citations
        content: list[dict[str, Any]] = [text_block]
        for call in reply.tool_calls or []:
            fn = call.get("function") or {}
            content.append(
                {
                    "type": "tool_use",
                    "id": call.get("id"),
                    "name": fn.get("name"),
                    "input": json.loads(fn.get("arguments") or "{}"),
                }
            )
        return {
            "id": f"msg_{request_id}",
            "type": "message",
            "role": "assistant",
            "model": self.model or body.get("model", "fake"),
            "content": content,
            "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }

    def _error_body(self, fault: Fault) -> dict[str, Any]:
        kinds = {
            400: "invalid_request_error",
            401: "authentication_error",
            403: "permission_error",
            404: "not_found_error",
            429: "rate_limit_error",
            529: "overloaded_error",
        }
        message = (
            "prompt is too long: 210000 tokens > 200000 maximum"
            if fault.code == "context_length_exceeded"
            else fault.message
        )
        return {"type": "error", "error": {"type": kinds.get(fault.status, "api_error"), "message": message}}

    def _stream_open(self, body: dict[str, Any]) -> list[tuple[str | None, str]]:
        model = self.model or body.get("model", "fake")
        return [
            (
                "message_start",
                json.dumps(
                    {
                        "type": "message_start",
                        "message": {
                            "id": "msg_stream",
                            "type": "message",
                            "role": "assistant",
                            "model": model,
                            "content": [],
                            "usage": {"input_tokens": 1, "output_tokens": 0},
                        },
                    }
                ),
            ),
            (
                "content_block_start",
                json.dumps(
                    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
                ),
            ),
        ]

    def _stream_chunk(self, body: dict[str, Any], chunk: str) -> tuple[str | None, str]:
        return "content_block_delta", json.dumps(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": chunk}}
        )

    def _stream_close(self, body: dict[str, Any], chunks: int) -> list[tuple[str | None, str]]:
        return [
            ("content_block_stop", json.dumps({"type": "content_block_stop", "index": 0})),
            (
                "message_delta",
                json.dumps(
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": "end_turn"},
                        "usage": {"output_tokens": chunks},
                    }
                ),
            ),
            ("message_stop", json.dumps({"type": "message_stop"})),
        ]

    def _stream_error(self) -> tuple[str | None, str]:
        return "error", json.dumps(
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        )


# The content blocks the Messages API accepts in a request, and the source types each may carry.
_ANTHROPIC_SOURCES: dict[str, frozenset[str]] = {
    "text": frozenset(),
    "tool_use": frozenset(),
    "tool_result": frozenset(),
    "thinking": frozenset(),
    "redacted_thinking": frozenset(),
    "image": frozenset({"base64", "url", "file"}),
    "document": frozenset({"base64", "text", "url", "file", "content"}),
}


def _anthropic_content_error(messages: list[dict[str, Any]]) -> str | None:
    """The real API's refusal of a content block it does not know (OpenAI's `image_url`, `file`, ...)."""
    for i, message in enumerate(messages):
        content = message.get("content")
        for j, block in enumerate(content if isinstance(content, list) else []):
            kind = block.get("type") if isinstance(block, dict) else None
            if kind not in _ANTHROPIC_SOURCES:
                return f"messages.{i}.content.{j}: Input tag '{kind}' found using 'type' does not match any of the expected tags"
            sources = _ANTHROPIC_SOURCES[kind]
            source = (block.get("source") or {}).get("type")
            if sources and source not in sources:
                return (
                    f"messages.{i}.content.{j}.source: Input tag '{source}' found using 'type' does not match"
                )
    return None


class FakeCohereServer(_FakeServer):
    """Cohere Chat v2 at `/v2/chat` (the api_base is the bare address); bearer auth; errors as
    `{"id", "message"}`. Usage reports billed units and, under `tokens`, the same plus
    `template_tokens` of Cohere's own prompt template on the input side, as the real API does.
    `Reply.usage` keys (`input_tokens`, `output_tokens`) set the billed units."""

    api_prefix = ""

    def __init__(
        self,
        script: Iterable[str | Reply | Fault] | None = None,
        *,
        template_tokens: int = 12,
        **kwargs: Any,
    ) -> None:
        super().__init__(script, **kwargs)
        self.template_tokens = template_tokens

    def _is_route(self, path: str) -> bool:
        return path == "/v2/chat"

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.require_key}"

    async def _answer(self, request: web.Request, body: dict[str, Any]) -> web.StreamResponse:
        roles = {m.get("role") for m in body.get("messages") or []}
        if not roles <= {"system", "user", "assistant", "tool"}:
            # the real API validates roles; catching a mistranslated one here keeps tests honest
            return web.json_response(
                self._error_body(Fault.bad_request(f"invalid role in messages: {sorted(map(str, roles))}")),
                status=400,
            )
        return await super()._answer(request, body)

    def _usage(self, body: dict[str, Any], reply: Reply, completion: int | None = None) -> dict[str, Any]:
        prompt, output = self._usage_counts(body, reply)
        billed = {"input_tokens": prompt, "output_tokens": output if completion is None else completion}
        billed.update(reply.usage or {})
        tokens = {
            "input_tokens": billed["input_tokens"] + self.template_tokens,
            "output_tokens": billed["output_tokens"],
        }
        return {"billed_units": billed, "tokens": tokens}

    def _completion(self, body: dict[str, Any], reply: Reply, request_id: str) -> dict[str, Any]:
        return {
            "id": f"chat_{request_id}",
            "finish_reason": "COMPLETE",
            "message": {"role": "assistant", "content": [{"type": "text", "text": reply.text or ""}]},
            "usage": self._usage(body, reply),
        }

    def _error_body(self, fault: Fault) -> dict[str, Any]:
        messages = {
            401: "invalid api token",
            404: f"model '{self.model or 'unknown'}' not found, make sure the correct model ID was used",
        }
        message = (
            "too many tokens: total number of tokens in the prompt cannot exceed 128000 - received 131072. "
            "Try using a shorter prompt."
            if fault.code == "context_length_exceeded"
            else messages.get(fault.status, fault.message)
        )
        return {"id": f"err_{next(self._ids)}", "message": message}

    def _stream_open(self, body: dict[str, Any]) -> list[tuple[str | None, str]]:
        start = {
            "type": "message-start",
            "id": "chat_stream",
            "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": []}},
        }
        content = {
            "type": "content-start",
            "index": 0,
            "delta": {"message": {"content": {"type": "text", "text": ""}}},
        }
        return [("message-start", json.dumps(start)), ("content-start", json.dumps(content))]

    def _stream_chunk(self, body: dict[str, Any], chunk: str) -> tuple[str | None, str]:
        delta = {"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": chunk}}}}
        return "content-delta", json.dumps(delta)

    def _stream_close(self, body: dict[str, Any], chunks: int) -> list[tuple[str | None, str]]:
        end = {
            "type": "message-end",
            "delta": {"finish_reason": "COMPLETE", "usage": self._usage(body, Reply(), completion=chunks)},
        }
        return [
            ("content-end", json.dumps({"type": "content-end", "index": 0})),
            ("message-end", json.dumps(end)),
        ]

    def _stream_error(self) -> tuple[str | None, str]:
        end = {"type": "message-end", "delta": {"finish_reason": "ERROR", "error": "internal server error"}}
        return "message-end", json.dumps(end)
