"""RetryingLM: which errors are retried, how many times, and how long it waits."""

from __future__ import annotations

import random

import pytest
from lm_fakes import FakeTime, ScriptedLM

from dspy_ash import errors
from dspy_ash.lm._retry import Backoff, RetryingLM
from dspy_ash.lm._types import LMRequest


def _req() -> LMRequest:
    return LMRequest(model="m", messages=[{"role": "user", "content": "hi"}])


def _retrying(
    script: list[str | BaseException], fake_time: FakeTime, retries: int = 3
) -> tuple[RetryingLM, ScriptedLM]:
    inner = ScriptedLM(script)
    return RetryingLM(inner, retries, backoff=Backoff(rng=random.Random(0), sleep=fake_time.sleep)), inner


async def test_retries_retryable_errors_then_succeeds(fake_time: FakeTime) -> None:
    lm, inner = _retrying(
        [
            errors.LMServerError("boom", status=500),
            errors.LMConnectionError("down"),
            errors.LMTimeoutError("slow"),
            "fine",
        ],
        fake_time,
    )
    response = await lm.request(_req())
    assert response.choices[0].text == "fine"
    assert len(inner.calls) == 4
    assert len(fake_time.sleeps) == 3


@pytest.mark.parametrize(
    "error",
    [
        errors.LMBadRequestError("bad", status=400),
        errors.LMAuthError("auth", status=401),
        errors.LMAuthError("forbidden", status=403),
        errors.LMNotFoundError("nf", status=404),
        errors.ContextWindowExceededError("long", status=400),
        errors.LMResponseError("garbled"),
    ],
)
async def test_does_not_retry_permanent_errors(error: errors.LMError, fake_time: FakeTime) -> None:
    lm, inner = _retrying([error, "never"], fake_time)
    with pytest.raises(type(error)):
        await lm.request(_req())
    assert len(inner.calls) == 1
    assert fake_time.sleeps == []


async def test_gives_up_after_num_retries(fake_time: FakeTime) -> None:
    lm, inner = _retrying([errors.LMServerError("x", status=503)] * 10, fake_time, retries=2)
    with pytest.raises(errors.LMServerError):
        await lm.request(_req())
    assert len(inner.calls) == 3  # the first attempt and 2 retries


async def test_zero_retries_means_one_attempt(fake_time: FakeTime) -> None:
    lm, inner = _retrying([errors.LMServerError("x", status=503), "ok"], fake_time, retries=0)
    with pytest.raises(errors.LMServerError):
        await lm.request(_req())
    assert len(inner.calls) == 1


async def test_honours_retry_after(fake_time: FakeTime) -> None:
    lm, _ = _retrying([errors.LMRateLimitError("slow", status=429, retry_after=7.5), "ok"], fake_time)
    await lm.request(_req())
    assert fake_time.sleeps == [7.5]


def test_retry_after_is_capped() -> None:
    backoff = Backoff(max_retry_after=60)
    assert backoff.delay(0, errors.LMRateLimitError("x", retry_after=3600)) == 60


def test_full_jitter_stays_within_the_exponential_envelope() -> None:
    backoff = Backoff(base=0.5, cap=8.0, rng=random.Random(1))
    err = errors.LMServerError("x")
    for attempt in range(8):
        ceiling = min(8.0, 0.5 * 2**attempt)
        delays = [backoff.delay(attempt, err) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # spread over the whole range, not a fixed value
        assert min(delays) < ceiling * 0.2


async def test_stream_is_retried_only_before_the_first_chunk(fake_time: FakeTime) -> None:
    from collections.abc import AsyncIterator

    attempts: list[int] = []

    class Flaky(ScriptedLM):
        async def _gen(self, fail_after: int | None) -> AsyncIterator[str]:
            for i in range(3):
                if fail_after is not None and i == fail_after:
                    raise errors.LMConnectionError("dropped")
                yield f"c{i}"

        def stream(self, req: LMRequest) -> AsyncIterator[str]:
            attempts.append(1)
            return self._gen(0 if len(attempts) == 1 else 1)

    lm = RetryingLM(Flaky(), 3, backoff=Backoff(sleep=fake_time.sleep))
    seen: list[str] = []
    with pytest.raises(errors.LMConnectionError):
        async for chunk in lm.stream(_req()):
            seen.append(chunk)
    # first attempt failed before any chunk (retried); the second failed after one chunk (not retried)
    assert len(attempts) == 2
    assert seen == ["c0"]
