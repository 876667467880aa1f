"""Cohere Chat v2 over a real socket: request translation, replies, billed usage and cost, typed errors,
Retry-After, streaming, and the key kept out of everything printed."""

from __future__ import annotations

import logging
import traceback
from collections.abc import AsyncIterator

import pytest
from wire_fakes import API_KEY, Sleeps

import dspy_ash
from dspy_ash import errors
from dspy_ash.lm._types import LMRequest
from dspy_ash.lm._usage import track_usage
from dspy_ash.testing import FakeCohereServer, Fault, Reply


@pytest.fixture
async def cohere_server() -> AsyncIterator[FakeCohereServer]:
    async with FakeCohereServer(require_key=API_KEY) as server:
        yield server


async def test_request_translation(cohere_server: FakeCohereServer, make_lm) -> None:
    lm = make_lm(
        "cohere/command-r-plus",
        cohere_server,
        temperature=0.3,
        max_tokens=64,
        top_p=0.9,
        stop="END",
        logprobs=True,  # not a Cohere parameter: left out rather than sent
    )
    await lm.acall(
        messages=[
            {"role": "developer", "content": "You are terse."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "text", "text": "hello"}]},
            {"role": "user", "content": [{"type": "text", "text": "again"}]},
        ]
    )
    sent = cohere_server.requests[0]
    assert sent.path == "/v2/chat"
    assert sent.headers["Authorization"] == f"Bearer {API_KEY}"
    assert sent.body == {
        "model": "command-r-plus",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": [{"type": "text", "text": "again"}]},
        ],
        "temperature": 0.3,
        "max_tokens": 64,
        "p": 0.9,
        "stop_sequences": ["END"],
    }


def test_default_address_and_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COHERE_API_BASE", raising=False)
    monkeypatch.setenv("COHERE_API_KEY", API_KEY)
    lm = dspy_ash.LM("cohere/command-r-plus")
    assert lm.client.endpoint.api_base == "https://api.cohere.com"
    assert lm.client.headers()["Authorization"] == f"Bearer {API_KEY}"
    assert API_KEY not in repr(lm) and API_KEY not in repr(lm.client.headers())


def test_predict_end_to_end_sync() -> None:
    with FakeCohereServer(require_key="co-key") as server:
        lm = dspy_ash.LM("cohere/command-r-plus", api_base=server.api_base, api_key="co-key")
        with dspy_ash.context(lm=lm):
            pred = dspy_ash.Predict("question -> answer")(question="Capital of France?")
        assert pred.answer == "answer for Capital of France?"
        messages = server.requests[0].body["messages"]
        assert messages[0]["role"] == "system" and messages[-1]["role"] == "user"


async def test_chain_of_thought_and_n_fan_out(cohere_server: FakeCohereServer, make_lm) -> None:
    lm = make_lm("cohere/command-r-plus", cohere_server)
    with dspy_ash.context(lm=lm):
        cot = await dspy_ash.ChainOfThought("question -> answer").acall(question="Why?")
    assert cot.reasoning == "reasoning for Why?" and cot.answer == "answer for Why?"
    outputs = await lm.acall("hi", n=3)
    assert len(outputs) == 3
    assert all("n" not in r.body for r in cohere_server.requests[1:])
    assert len(cohere_server.requests) == 4


async def test_billed_usage_and_cost(make_lm) -> None:
    # the reply's `tokens` add 12 template tokens to the input; billed units are what is charged
    async with FakeCohereServer([Reply("ok", usage={"input_tokens": 1000, "output_tokens": 200})]) as server:
        lm = make_lm("cohere/command-r-plus", server, prices={"command-r-plus": (2.50, 10.00)})
        with track_usage() as tracker:
            await lm.acall("hi")
    entry = lm.history[-1]
    assert entry["usage"] == {
        "prompt_tokens": 1000,
        "completion_tokens": 200,
        "total_tokens": 1200,
        "cached_tokens": 0,
    }
    expected = (1000 * 2.50 + 200 * 10.00) / 1e6
    assert entry["cost"] == pytest.approx(expected)
    assert entry["response"]["usage"]["tokens"]["input_tokens"] == 1012  # the raw reply, as DSPy keeps it
    assert tracker.get_total_tokens()["cohere/command-r-plus"]["cost"] == pytest.approx(expected)


async def test_reply_translation_at_the_client(make_lm) -> None:
    async with FakeCohereServer(["the text"]) as server:
        lm = make_lm("cohere/command-r-plus", server)
        response = await lm.client.request(
            LMRequest(model="cohere/command-r-plus", messages=[{"role": "user", "content": "hi"}])
        )
    [choice] = response.choices
    assert (choice.text, choice.finish_reason) == ("the text", "stop")  # COMPLETE in OpenAI's terms
    assert response.request_id == "req_1"


async def test_rate_limit_with_retry_after_is_retried(
    cohere_server: FakeCohereServer, make_lm, sleeps: Sleeps
) -> None:
    cohere_server.fail_next(Fault.rate_limit(retry_after=7), Fault.server_error(503))
    lm = make_lm("cohere/command-r-plus", cohere_server)
    assert (await lm.acall("hi"))[0].startswith("[[ ## answer ## ]]")
    assert len(cohere_server.requests) == 3
    assert sleeps.delays[0] == 7.0 and len(sleeps.delays) == 2


@pytest.mark.parametrize(
    ("fault", "expected", "message"),
    [
        (Fault.unauthorized(), errors.LMAuthError, "invalid api token"),
        (Fault.not_found(), errors.LMNotFoundError, "not found"),
        (Fault.bad_request("invalid type: parameter p"), errors.LMBadRequestError, "parameter p"),
        (Fault.context_length(), errors.ContextWindowExceededError, "too many tokens"),
    ],
)
async def test_permanent_errors_are_typed_and_not_retried(
    fault: Fault,
    expected: type[errors.LMError],
    message: str,
    cohere_server: FakeCohereServer,
    make_lm,
    sleeps: Sleeps,
) -> None:
    cohere_server.fail_next(fault)
    lm = make_lm("cohere/command-r-plus", cohere_server)
    with pytest.raises(expected, match=message) as info:
        await lm.acall("hi")
    assert type(info.value) is expected
    assert info.value.status == fault.status and info.value.provider == "cohere"
    assert info.value.request_id == "req_1"
    assert len(cohere_server.requests) == 1 and sleeps.delays == []


async def test_wrong_key_is_an_auth_error(make_lm) -> None:
    async with FakeCohereServer(require_key="the-right-key") as server:
        lm = make_lm("cohere/command-r-plus", server)
        with pytest.raises(errors.LMAuthError):
            await lm.acall("hi")


async def test_stream_yields_deltas(make_lm) -> None:
    text = "[[ ## answer ## ]]\nLima\n\n[[ ## completed ## ]]"
    async with FakeCohereServer([text], stream_chunk_chars=5, require_key=API_KEY) as server:
        lm = make_lm("cohere/command-r-plus", server)
        chunks = [c async for c in lm.astream("where?")]
    assert "".join(chunks) == text and len(chunks) == len(text) // 5 + 1
    assert server.requests[0].body["stream"] is True
    assert server.requests[0].path == "/v2/chat"


async def test_stream_error_after_chunks_is_typed(make_lm) -> None:
    async with FakeCohereServer(
        [Reply("abcdefghij" * 3, stream_error_after=2)], stream_chunk_chars=10
    ) as server:
        lm = make_lm("cohere/command-r-plus", server, num_retries=0)
        got: list[str] = []
        with pytest.raises(errors.LMServerError, match="internal server error"):
            async for chunk in lm.astream("hi"):
                got.append(chunk)
    assert got == ["abcdefghij", "abcdefghij"]


async def test_stream_error_status_before_the_stream_is_typed(
    cohere_server: FakeCohereServer, make_lm
) -> None:
    cohere_server.fail_next(Fault.unauthorized())
    lm = make_lm("cohere/command-r-plus", cohere_server)
    with pytest.raises(errors.LMAuthError):
        async for _ in lm.astream("hi"):
            pass


async def test_key_never_leaks(
    cohere_server: FakeCohereServer, make_lm, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    lm = make_lm("cohere/command-r-plus", cohere_server)
    await lm.acall("hello")
    cohere_server.fail_next(Fault.server_error(), Fault.unauthorized())
    with pytest.raises(errors.LMAuthError) as info:
        await lm.acall("again")
    texts = [
        repr(lm),
        str(lm.dump_state()),
        repr(lm.history),
        str(info.value),
        repr(info.value),
        "".join(traceback.format_exception(info.value)),
        caplog.text,
        repr(vars(lm.client)),
        repr(lm.client.headers()),
    ]
    assert not [t for t in texts if API_KEY in t]
    assert all(API_KEY not in r.raw.decode() for r in cohere_server.requests)
