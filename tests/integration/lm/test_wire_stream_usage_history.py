"""Streaming, usage and cost accounting, events, history bounds and key redaction end to end."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from wire_fakes import API_KEY

from dspy_ash import errors
from dspy_ash.events import Event
from dspy_ash.lm._base import inspect_history
from dspy_ash.lm._history import GLOBAL_HISTORY
from dspy_ash.lm._usage import track_usage
from dspy_ash.settings import context
from dspy_ash.testing.fake_servers import FakeAnthropicServer, FakeOpenAIServer, Fault


@pytest.mark.parametrize("server_cls", [FakeOpenAIServer, FakeAnthropicServer])
async def test_stream_yields_deltas(server_cls: type[FakeOpenAIServer], make_lm) -> None:
    text = "[[ ## answer ## ]]\nParis is the capital.\n\n[[ ## completed ## ]]"
    async with server_cls([text], stream_chunk_chars=5) as server:
        prefix = "openai/gpt-4o-mini" if server_cls is FakeOpenAIServer else "anthropic/claude-3-5-haiku"
        lm = make_lm(prefix, server)
        chunks = [c async for c in lm.astream("where?")]
        assert len(chunks) == len(text) // 5 + 1
        assert "".join(chunks) == text
        assert server.requests[0].body["stream"] is True
        assert lm.history[-1]["outputs"] == [text]


async def test_stream_retries_before_the_first_chunk(
    make_lm, openai_server: FakeOpenAIServer, sleeps
) -> None:
    openai_server.fail_next(Fault.rate_limit(retry_after=1))
    lm = make_lm("openai/gpt-4o-mini", openai_server)
    assert "".join([c async for c in lm.astream("hi")]).startswith("[[ ## answer")
    assert sleeps.delays == [1.0]


async def test_stream_errors_are_typed(make_lm, openai_server: FakeOpenAIServer) -> None:
    openai_server.fail_next(Fault.unauthorized())
    lm = make_lm("openai/gpt-4o-mini", openai_server)
    with pytest.raises(errors.LMAuthError):
        async for _ in lm.astream("hi"):
            pass


async def test_usage_and_cost_in_tracker_events_and_history(make_lm, openai_server: FakeOpenAIServer) -> None:
    seen: list[Event] = []
    lm = make_lm("openai/gpt-4o-mini", openai_server)
    with context(callbacks=[seen.append]), track_usage() as tracker:
        await lm.acall("first question")
        await lm.acall("second question")
        await lm.acall("first question")  # a hit: no usage, no cost
    totals = tracker.get_total_tokens()["openai/gpt-4o-mini"]
    calls = [h for h in lm.history if not h["cache_hit"]]
    assert totals["prompt_tokens"] == sum(h["usage"]["prompt_tokens"] for h in calls)
    assert totals["cost"] == pytest.approx(sum(h["cost"] for h in calls))
    assert totals["cost"] > 0
    assert tracker.calls == 3 and tracker.cache_hits == 1
    ends = [e for e in seen if e.kind == "lm" and e.phase == "end"]
    assert [e.extra["cache_hit"] for e in ends] == [False, False, True]
    assert ends[0].extra["cost"] == calls[0]["cost"] and ends[0].usage == calls[0]["usage"]
    assert ends[2].usage == {} and lm.history[-1]["usage"] == {}
    assert ends[0].extra["request_id"] == "req_1"


async def test_history_is_bounded(make_lm, openai_server: FakeOpenAIServer) -> None:
    lm = make_lm("openai/gpt-4o-mini", openai_server)
    with context(max_history_size=5):
        for i in range(60):
            await lm.acall(f"q{i}")
    assert len(lm.history) == 5
    assert len(GLOBAL_HISTORY) == 5
    assert lm.history[-1]["messages"][0]["content"] == "q59"
    out = io.StringIO()
    lm.inspect_history(1, file=out)
    assert "q59" in out.getvalue() and "Response:" in out.getvalue()
    inspect_history(1, file=out)


async def test_disable_history(make_lm, openai_server: FakeOpenAIServer) -> None:
    lm = make_lm("openai/gpt-4o-mini", openai_server)
    with context(disable_history=True):
        await lm.acall("q")
    assert lm.history == []


async def test_key_never_leaks(
    make_lm, openai_server: FakeOpenAIServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    lm = make_lm("openai/gpt-4o-mini", openai_server)
    await lm.acall("hello")
    openai_server.fail_next(Fault.server_error(), Fault.unauthorized())
    with pytest.raises(errors.LMAuthError) as info:
        await lm.acall("again")
    import traceback

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
    from dspy_ash.lm._cache import get_cache
    from dspy_ash.lm._disk_cache import DiskCacheBackend

    backend = get_cache().backend
    assert isinstance(backend, DiskCacheBackend) and backend.flush(timeout=5)
    assert list((tmp_path / "lm-cache").rglob("*.json"))
    for path in (tmp_path / "lm-cache").rglob("*"):
        if path.is_file():
            assert API_KEY not in path.read_text()
    assert all(API_KEY not in r.raw.decode() for r in openai_server.requests)  # not in bodies either
    # exception frames: the headers local prints masked
    frames_text = repr([tb.tb_frame.f_locals for tb in _walk(info.value.__traceback__)])
    assert API_KEY not in frames_text


def _walk(tb):  # type: ignore[no-untyped-def]
    while tb is not None:
        yield tb
        tb = tb.tb_next


@pytest.mark.parametrize("server_cls", [FakeOpenAIServer, FakeAnthropicServer])
async def test_error_inside_a_stream(server_cls: type[FakeOpenAIServer], make_lm, sleeps) -> None:
    from dspy_ash.testing.fake_servers import Reply

    text = "0123456789" * 4
    script = [Reply(text, stream_error_after=0), Reply(text, stream_error_after=2)]
    async with server_cls(script, stream_chunk_chars=10) as server:
        prefix = "openai/gpt-4o-mini" if server_cls is FakeOpenAIServer else "anthropic/claude-3-5-haiku"
        lm = make_lm(prefix, server)
        seen: list[str] = []
        with pytest.raises(errors.LMServerError):
            async for chunk in lm.astream("hi"):
                seen.append(chunk)
        # the first stream failed before any text and was retried; the second failed after two chunks
        assert seen == ["0123456789", "0123456789"]
        assert len(server.requests) == 2 and len(sleeps.delays) == 1
