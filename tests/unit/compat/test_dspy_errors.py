"""DSPy 3.4's LM exception names catch dspy-ash's own errors, and construct the way DSPy code builds them."""

from __future__ import annotations

import pytest

import dspy_ash as dspy
from dspy_ash import errors


def test_dspy_error_names_are_dspy_ash_errors():
    assert dspy.LMTransportError is errors.LMConnectionError
    assert dspy.LMInvalidRequestError is errors.LMBadRequestError
    assert issubclass(dspy.ContextWindowExceededError, dspy.LMInvalidRequestError)
    assert issubclass(dspy.LMRateLimitError, dspy.LMProviderError)
    assert issubclass(dspy.LMNotConfiguredError, dspy.LMConfigurationError)
    assert issubclass(dspy.LMUnexpectedError, dspy.LMError)


@pytest.mark.parametrize(
    ("cls", "retryable"),
    [
        (errors.LMRateLimitError, True),
        (errors.LMTimeoutError, True),
        (errors.LMServerError, True),
        (errors.LMTransportError, True),
        (errors.LMAuthError, False),
        (errors.LMInvalidRequestError, False),
        (errors.LMUnexpectedError, False),
    ],
)
def test_errors_build_without_a_message_and_keep_their_retry_class(cls, retryable):
    error = cls()
    assert str(error) == cls.default_message and error.message
    assert errors.is_retryable_lm_error(error) is retryable


def test_error_codes_and_metadata():
    error = errors.LMRateLimitError("slow down", model="m", status=429, retry_after=2.0)
    assert (error.code, error.model, error.status, error.retry_after) == ("rate_limit", "m", 429, 2.0)
    assert errors.ContextWindowExceededError().code == "context_window_exceeded"
    assert str(errors.ContextWindowExceededError()) == "Context window exceeded"
    assert errors.AdapterParseError("ChatAdapter", None, "reply").code == "adapter_parse_error"


def test_format_error_for_lm():
    try:
        raise ValueError("bad input")
    except ValueError as exc:
        assert errors.format_error_for_lm(exc) == "bad input"
        with_frames = errors.format_error_for_lm(exc, traceback_frames=1)
    assert with_frames.startswith("\nTraceback") and with_frames.endswith("ValueError: bad input")
    assert "test_format_error_for_lm" in with_frames


def test_missing_dspy_names_are_attribute_and_import_errors():
    assert issubclass(errors.MissingFeatureError, AttributeError)
    assert issubclass(errors.MissingFeatureError, errors.UnsupportedFeatureError)
    assert issubclass(errors.UnsupportedImportError, ImportError)
    assert issubclass(errors.UnsupportedImportError, errors.DspyAshError)
