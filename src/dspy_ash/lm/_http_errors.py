"""HTTP status + provider error body -> the typed `LMError` (one table for every provider)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from dspy_ash.errors import (
    ContextWindowExceededError,
    LMAuthError,
    LMBadRequestError,
    LMBillingError,
    LMError,
    LMNotFoundError,
    LMRateLimitError,
    LMResponseError,
    LMServerError,
)

# What OpenAI, Anthropic, vLLM, Ollama, Together, Groq... say when the prompt does not fit.
_CONTEXT_WINDOW = re.compile(
    r"context[_ ]length|context window|maximum context|prompt is too long|too many tokens|"
    r"input is too long|exceeds the model's max|reduce the length",
    re.IGNORECASE,
)
_CONTEXT_CODES = {"context_length_exceeded", "string_above_max_length"}
_BILLING = re.compile(r"insufficient_quota|billing|credit balance|quota", re.IGNORECASE)

_BY_STATUS: dict[int, type[LMError]] = {
    400: LMBadRequestError,
    401: LMAuthError,
    402: LMBillingError,
    403: LMAuthError,
    404: LMNotFoundError,
    408: LMServerError,
    409: LMServerError,
    413: LMBadRequestError,
    422: LMBadRequestError,
    429: LMRateLimitError,
}


def request_id_from(headers: Mapping[str, str]) -> str | None:
    return headers.get("x-request-id") or headers.get("request-id")


def retry_after_from(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _error_fields(body: bytes) -> tuple[str | None, str | None, str | None]:
    """(message, type, code) from OpenAI-style `{"error": {...}}`, Anthropic `{"type": "error", "error": {...}}`
    or Ollama `{"error": "text"}` bodies."""
    try:
        data: Any = json.loads(body)
    except ValueError:
        return None, None, None
    if not isinstance(data, dict):
        return None, None, None
    err: Any = data.get("error", data)
    if isinstance(err, str):
        return err, None, None
    if not isinstance(err, dict):
        return None, None, None
    message, kind, code = err.get("message"), err.get("type"), err.get("code")
    return (
        str(message) if message is not None else None,
        str(kind) if kind is not None else None,
        str(code) if code is not None else None,
    )


def error_from_response(
    status: int, body: bytes, headers: Mapping[str, str], *, provider: str, model: str
) -> LMError:
    message, kind, code = _error_fields(body)
    text = message or body[:500].decode("utf-8", "replace") or f"HTTP {status}"
    cls: type[LMError]
    if status in (400, 413, 422) and (code in _CONTEXT_CODES or _CONTEXT_WINDOW.search(text)):
        cls = ContextWindowExceededError
    elif status == 429 and (code == "insufficient_quota" or kind == "insufficient_quota"):
        cls = LMBillingError  # OpenAI answers 429 when the account is out of credit: waiting will not help
    elif status == 400 and _BILLING.search(text):
        cls = LMBillingError  # Anthropic: 400 "Your credit balance is too low"
    elif status in _BY_STATUS:
        cls = _BY_STATUS[status]
    elif status >= 500:
        cls = LMServerError
    elif 400 <= status < 500:
        cls = LMBadRequestError
    else:
        cls = LMResponseError
    return cls(
        text,
        status=status,
        provider=provider,
        model=model,
        retry_after=retry_after_from(headers),
        request_id=request_id_from(headers),
        body=body[:2000].decode("utf-8", "replace"),
    )


_STREAM_ERRORS: dict[str, type[LMError]] = {
    "server_error": LMServerError,
    "api_error": LMServerError,
    "overloaded_error": LMServerError,
    "rate_limit_error": LMRateLimitError,
    "invalid_request_error": LMBadRequestError,
}


def error_from_stream_event(data: dict[str, Any], *, provider: str, model: str) -> LMError:
    """An error sent inside a stream after a 200 (OpenAI `{"error": ...}`, Anthropic `event: error`)."""
    err: Any = data.get("error")
    fields: dict[str, Any] = err if isinstance(err, dict) else {"message": str(err)}
    cls = _STREAM_ERRORS.get(str(fields.get("type")), LMResponseError)
    return cls(
        str(fields.get("message") or "error in the reply stream"),
        provider=provider,
        model=model,
        body=json.dumps(data)[:2000],
    )


def malformed_reply(
    message: str, data: dict[str, Any], *, provider: str, model: str, request_id: str | None = None
) -> LMResponseError:
    """The error for a JSON reply that lacks what the wire format promises; its start goes in `body`."""
    return LMResponseError(
        message, provider=provider, model=model, request_id=request_id, body=json.dumps(data)[:2000]
    )
