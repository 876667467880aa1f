"""Ollama's native /api/chat, against a minimal server written here (options, format, eval counts)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from dspy_ash import errors
from dspy_ash.lm._lm import LM


async def _serve(handler: Any) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_post("/api/chat", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def test_ollama_native_chat() -> None:
    bodies: list[dict[str, Any]] = []

    async def chat(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        return web.json_response(
            {
                "model": "llama3.2",
                "message": {"role": "assistant", "content": "hi there"},
                "done": True,
                "done_reason": "stop",
                "prompt_eval_count": 12,
                "eval_count": 3,
            }
        )

    runner, base = await _serve(chat)
    try:
        lm = LM("ollama_chat/llama3.2", api_base=base, temperature=0.2, max_tokens=30)
        assert await lm.acall("hello", response_format={"type": "json_object"}) == ["hi there"]
        assert bodies[0] == {
            "model": "llama3.2",
            "messages": [{"role": "user", "content": "hello"}],
            "stream": False,
            "options": {"temperature": 0.2, "num_predict": 30},
            "format": "json",
        }
        assert lm.history[-1]["usage"]["total_tokens"] == 15
        assert lm.history[-1]["cost"] is None  # local models have no price
    finally:
        await runner.cleanup()


async def test_ollama_error_body() -> None:
    async def chat(request: web.Request) -> web.Response:
        return web.json_response({"error": 'model "nope" not found, try pulling it first'}, status=404)

    runner, base = await _serve(chat)
    try:
        lm = LM("ollama_chat/nope", api_base=base, num_retries=0)
        try:
            await lm.acall("hello")
        except errors.LMNotFoundError as exc:
            assert "try pulling it first" in exc.message
        else:
            raise AssertionError("expected LMNotFoundError")
    finally:
        await runner.cleanup()


async def _ndjson(request: web.Request, lines: list[dict[str, Any]]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson"})
    await response.prepare(request)
    for line in lines:
        await response.write((json.dumps(line) + "\n").encode())
    await response.write_eof()
    return response


async def test_ollama_streams_newline_delimited_json() -> None:
    bodies: list[dict[str, Any]] = []

    async def chat(request: web.Request) -> web.StreamResponse:
        bodies.append(await request.json())
        parts = [
            {"message": {"role": "assistant", "content": piece}, "done": False}
            for piece in ("Hel", "lo", "!")
        ]
        return await _ndjson(
            request, [*parts, {"message": {"role": "assistant", "content": ""}, "done": True}]
        )

    runner, base = await _serve(chat)
    try:
        lm = LM("ollama_chat/llama3.2", api_base=base, cache=False)
        chunks = [chunk async for chunk in lm.astream("Say hello")]
        assert chunks == ["Hel", "lo", "!"]
        assert bodies[0]["stream"] is True
        assert lm.history[-1]["outputs"] == ["Hello!"]
    finally:
        await runner.cleanup()


async def test_ollama_stream_errors_are_typed() -> None:
    async def failing(request: web.Request) -> web.StreamResponse:
        return await _ndjson(
            request, [{"message": {"content": "par"}, "done": False}, {"error": "model crashed"}]
        )

    async def missing(request: web.Request) -> web.Response:
        return web.json_response({"error": "model 'nope' not found"}, status=404)

    for handler, error in ((failing, errors.LMServerError), (missing, errors.LMNotFoundError)):
        runner, base = await _serve(handler)
        try:
            lm = LM("ollama_chat/nope", api_base=base, cache=False, num_retries=0)
            with pytest.raises(error):
                async for _ in lm.astream("hi"):
                    pass
        finally:
            await runner.cleanup()
