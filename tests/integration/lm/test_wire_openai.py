"""OpenAI-compatible chat completions over a real socket: the request on the wire and the reply."""

from __future__ import annotations

import pydantic
from wire_fakes import API_KEY

from dspy_ash.lm._lm import LM
from dspy_ash.testing.fake_servers import FakeOpenAIServer, Reply

ASK = (
    "[[ ## question ## ]]\nWhat is 2+2?\n\nRespond with the corresponding output fields, starting with the "
    "field `[[ ## reasoning ## ]]`, then `[[ ## answer ## ]]`, and then ending with the marker for "
    "`[[ ## completed ## ]]`."
)


async def test_round_trip_with_headers_body_usage_and_cost(openai_server: FakeOpenAIServer, make_lm) -> None:
    lm = make_lm("openai/gpt-4o-mini", openai_server, temperature=0.1, max_tokens=50)
    outputs = await lm.acall(
        messages=[{"role": "system", "content": "be brief"}, {"role": "user", "content": ASK}]
    )
    assert outputs == [
        "[[ ## reasoning ## ]]\nreasoning for What is 2+2?\n\n"
        "[[ ## answer ## ]]\nanswer for What is 2+2?\n\n[[ ## completed ## ]]"
    ]
    sent = openai_server.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.body == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": ASK}],
        "temperature": 0.1,
        "max_tokens": 50,
    }
    entry = lm.history[-1]
    assert entry["usage"]["prompt_tokens"] > 0 and entry["usage"]["completion_tokens"] > 0
    assert entry["cost"] > 0
    assert entry["response"]["id"].startswith("chatcmpl-")


async def test_n_tools_and_response_format_pass_through(openai_server: FakeOpenAIServer, make_lm) -> None:
    class Answer(pydantic.BaseModel):
        answer: str

    tools = [{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}]
    lm = make_lm("openai/gpt-4o-mini", openai_server)
    outputs = await lm.acall("hi", n=3, tools=tools, tool_choice="auto", response_format=Answer)
    assert len(outputs) == 3
    body = openai_server.requests[0].body
    assert body["n"] == 3 and body["tools"] == tools and body["tool_choice"] == "auto"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["properties"] == {
        "answer": {"title": "Answer", "type": "string"}
    }


async def test_tool_calls_come_back_as_dicts(make_lm) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "search", "arguments": '{"q": "x"}'}}
    async with FakeOpenAIServer([Reply(text=None, tool_calls=[call])]) as server:
        lm = make_lm("openai/gpt-4o-mini", server)
        assert await lm.acall("hi") == [{"text": None, "tool_calls": [call]}]


async def test_any_openai_compatible_server_by_api_base(make_lm) -> None:
    async with FakeOpenAIServer(["hello from vllm"]) as server:
        lm = make_lm("hosted_vllm/Qwen/Qwen2.5-7B-Instruct", server, api_key=None)
        assert await lm.acall("hi") == ["hello from vllm"]
        assert server.requests[0].body["model"] == "Qwen/Qwen2.5-7B-Instruct"
        assert "Authorization" not in server.requests[0].headers


async def test_reasoning_model_sends_max_completion_tokens(openai_server: FakeOpenAIServer, make_lm) -> None:
    lm = make_lm("openai/o4-mini", openai_server, max_tokens=20_000)
    await lm.acall("hi")
    body = openai_server.requests[0].body
    assert body["max_completion_tokens"] == 20_000 and "max_tokens" not in body and "temperature" not in body


def test_sync_call_from_plain_code() -> None:
    with FakeOpenAIServer(["sync answer"]) as server:
        lm = LM("openai/gpt-4o-mini", api_base=server.api_base, api_key="k")
        assert lm("hi") == ["sync answer"]
        assert lm("hi") == ["sync answer"]  # a cache hit: the server saw one request
        assert len(server.requests) == 1


async def test_sync_call_inside_a_running_loop() -> None:
    # the server runs on its own thread: the sync call blocks this loop until it has its answer
    with FakeOpenAIServer(["from the bridge"]) as server:
        lm = LM("openai/gpt-4o-mini", api_base=server.api_base, api_key="k", cache=False)
        assert lm("hi") == ["from the bridge"]


async def test_text_completion_model_type() -> None:
    from aiohttp import web

    bodies: list[dict[str, object]] = []

    async def completions(request: web.Request) -> web.Response:
        bodies.append(await request.json())
        return web.json_response(
            {
                "id": "cmpl-1",
                "object": "text_completion",
                "model": "base",
                "choices": [{"index": 0, "text": " Paris", "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
            }
        )

    app = web.Application()
    app.router.add_post("/v1/completions", completions)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        lm = LM("hosted_vllm/base", model_type="text", api_base=f"http://127.0.0.1:{port}/v1", max_tokens=5)
        assert await lm.acall(
            messages=[
                {"role": "system", "content": "Answer."},
                {"role": "user", "content": "Capital of France?"},
            ]
        ) == [" Paris"]
        assert bodies == [
            {"model": "base", "prompt": "Answer.\n\nCapital of France?\n\nBEGIN RESPONSE:", "max_tokens": 5}
        ]
        assert lm.history[-1]["usage"]["total_tokens"] == 10
    finally:
        await runner.cleanup()
