"""HTTP status and provider error bodies map to the typed errors, with their data."""

from __future__ import annotations

import json

import pytest

from dspy_ash import errors
from dspy_ash.lm._http_errors import error_from_response, retry_after_from


def _openai(message: str, code: str | None = None, kind: str = "invalid_request_error") -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "code": code}}).encode()


def _anthropic(message: str, kind: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": kind, "message": message}}).encode()


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, _openai("bad param"), errors.LMBadRequestError),
        (400, _openai("too long", code="context_length_exceeded"), errors.ContextWindowExceededError),
        (
            400,
            _anthropic("prompt is too long: 210000 tokens > 200000 maximum", "invalid_request_error"),
            errors.ContextWindowExceededError,
        ),
        (
            400,
            _anthropic("Your credit balance is too low to access the Anthropic API", "invalid_request_error"),
            errors.LMBillingError,
        ),
        (401, _openai("Incorrect API key", kind="authentication_error"), errors.LMAuthError),
        (403, _anthropic("nope", "permission_error"), errors.LMAuthError),
        (402, _openai("pay"), errors.LMBillingError),
        (404, _openai("no such model"), errors.LMNotFoundError),
        (408, b"", errors.LMServerError),
        (409, b"", errors.LMServerError),
        (429, _openai("slow down", kind="rate_limit_error"), errors.LMRateLimitError),
        (
            429,
            _openai("You exceeded your current quota", code="insufficient_quota", kind="insufficient_quota"),
            errors.LMBillingError,
        ),
        (500, b"oops", errors.LMServerError),
        (529, _anthropic("Overloaded", "overloaded_error"), errors.LMServerError),
        (418, b"teapot", errors.LMBadRequestError),
        (
            400,
            json.dumps({"error": "model 'x' not found, try pulling it first"}).encode(),
            errors.LMBadRequestError,
        ),
    ],
)
def test_status_and_body_map_to_typed_errors(
    status: int, body: bytes, expected: type[errors.LMError]
) -> None:
    err = error_from_response(status, body, {"x-request-id": "req_1"}, provider="openai", model="m")
    assert type(err) is expected
    assert err.status == status
    assert err.provider == "openai"
    assert err.request_id == "req_1"


def test_retryable_classes() -> None:
    def retryable(status: int) -> bool:
        return errors.is_retryable_lm_error(error_from_response(status, b"", {}, provider="p", model="m"))

    assert [s for s in (400, 401, 402, 403, 404, 408, 409, 429, 500, 502, 503, 529) if retryable(s)] == [
        408,
        409,
        429,
        500,
        502,
        503,
        529,
    ]


def test_message_comes_from_the_body_and_request_id_from_either_header() -> None:
    err = error_from_response(
        401,
        _anthropic("invalid x-api-key", "authentication_error"),
        {"request-id": "abc"},
        provider="anthropic",
        model="claude",
    )
    assert err.message == "invalid x-api-key"
    assert err.request_id == "abc"
    assert err.status == 401 and str(err) == "[claude] invalid x-api-key"


def test_retry_after_forms() -> None:
    assert retry_after_from({"retry-after": "7"}) == 7.0
    assert retry_after_from({"retry-after": "1.5"}) == 1.5
    assert retry_after_from({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_from({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480.0) == 10.0
    assert retry_after_from({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412500.0) == 0.0
    assert retry_after_from({"retry-after": "soon"}) is None
    assert retry_after_from({}) is None


def test_error_carries_retry_after() -> None:
    err = error_from_response(429, b"{}", {"retry-after": "3"}, provider="p", model="m")
    assert err.retry_after == 3.0
