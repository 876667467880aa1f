"""Faults injected at a real server reach the caller as typed errors, retried only when they should be."""

from __future__ import annotations

import pytest
from wire_fakes import Sleeps

from dspy_ash import errors
from dspy_ash.testing.fake_servers import FakeAnthropicServer, FakeOpenAIServer, Fault


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault.unauthorized(), errors.LMAuthError),
        (Fault.forbidden(), errors.LMAuthError),
        (Fault.billing(), errors.LMBillingError),
        (Fault.not_found(), errors.LMNotFoundError),
        (Fault.bad_request(), errors.LMBadRequestError),
        (Fault.context_length(), errors.ContextWindowExceededError),
        (Fault.non_json(), errors.LMResponseError),
        (Fault.truncated(), errors.LMResponseError),
    ],
)
async def test_permanent_faults_raise_once(
    fault: Fault, expected: type[errors.LMError], make_lm, openai_server: FakeOpenAIServer, sleeps: Sleeps
) -> None:
    openai_server.fail_next(fault)
    lm = make_lm("openai/gpt-4o-mini", openai_server)
    with pytest.raises(expected) as info:
        await lm.acall("hi")
    assert type(info.value) is expected
    assert len(openai_server.requests) == 1
    assert sleeps.delays == []
    assert info.value.provider == "openai"
    if fault.kind == "http":
        assert info.value.status == fault.status
        assert info.value.request_id == "req_1"


async def test_context_window_from_anthropic(anthropic_server: FakeAnthropicServer, make_lm) -> None:
    anthropic_server.fail_next(Fault.context_length())
    lm = make_lm("anthropic/claude-3-5-haiku", anthropic_server)
    with pytest.raises(errors.ContextWindowExceededError, match="prompt is too long") as info:
        await lm.acall("hi")
    assert info.value.request_id == "req_1" and info.value.provider == "anthropic"


@pytest.mark.parametrize(
    "fault",
    [
        Fault.server_error(),
        Fault.server_error(503),
        Fault.server_error(408),
        Fault.rate_limit(),
        Fault.disconnect(),
    ],
)
async def test_transient_faults_are_retried(
    fault: Fault, make_lm, openai_server: FakeOpenAIServer, sleeps: Sleeps
) -> None:
    openai_server.fail_next(fault, fault)
    lm = make_lm("openai/gpt-4o-mini", openai_server)
    assert (await lm.acall("hi"))[0].startswith("[[ ## answer ## ]]")
    assert len(openai_server.requests) == 3
    assert len(sleeps.delays) == 2


async def test_retry_after_header_is_honoured(
    make_lm, openai_server: FakeOpenAIServer, sleeps: Sleeps
) -> None:
    openai_server.fail_next(Fault.rate_limit(retry_after=7), Fault.rate_limit(retry_after_ms=250))
    lm = make_lm("openai/gpt-4o-mini", openai_server)
    await lm.acall("hi")
    assert sleeps.delays == [7.0, 0.25]


async def test_gives_up_after_num_retries(make_lm, openai_server: FakeOpenAIServer, sleeps: Sleeps) -> None:
    openai_server.fail_next(*[Fault.server_error()] * 5)
    lm = make_lm("openai/gpt-4o-mini", openai_server, num_retries=2)
    with pytest.raises(errors.LMServerError) as info:
        await lm.acall("hi")
    assert len(openai_server.requests) == 3
    assert info.value.request_id == "req_3"


async def test_timeout_is_retryable_and_typed(make_lm, openai_server: FakeOpenAIServer) -> None:
    openai_server.fail_next(Fault.slow(5.0))
    lm = make_lm("openai/gpt-4o-mini", openai_server, timeout=0.2, num_retries=0)
    with pytest.raises(errors.LMTimeoutError) as info:
        await lm.acall("hi")
    assert info.value.is_retryable


async def test_connection_refused_is_a_connection_error(make_lm) -> None:
    async with FakeOpenAIServer() as server:
        pass  # stopped: nothing listens on its port any more
    lm = make_lm("openai/gpt-4o-mini", server, num_retries=0)
    with pytest.raises(errors.LMConnectionError):
        await lm.acall("hi")


async def test_reply_without_markers_is_returned_verbatim(make_lm) -> None:
    async with FakeOpenAIServer(["I am not sure how to format this."]) as server:
        lm = make_lm("openai/gpt-4o-mini", server)
        assert await lm.acall("hi") == ["I am not sure how to format this."]
