"""The service's log format: JSON lines, and no secret in them wherever it came from."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from dspy_ash.api._logging import JsonFormatter, RedactingFilter, logging_config, redact

KEY = "dak_" + "Zx9-Qw_7" * 5  # the shape of a real key: the prefix and 40 URL-safe characters


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("dspy_ash.tests.logging")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        (f"key {KEY} refused", "key dak_[redacted] refused"),
        (f"Authorization: Bearer {KEY}", "Authorization: [redacted]"),
        ("bearer abcdefghijklmnop", "bearer [redacted]"),
        ("sk-proj-abcdefghijklmnop1234", "sk-[redacted]"),
        ("sk-ant-api03-abcdefghijklmnop", "sk-ant-[redacted]"),
        ('{"api_key": "whatever-it-is"}', '{"api_key": "[redacted]"}'),
        ("password=hunter2; next", "password=[redacted]; next"),
        # not secrets: left alone
        ("task-abcdefghijklmnop done", "task-abcdefghijklmnop done"),
        ("tokens: 12 in, 8 out", "tokens: 12 in, 8 out"),
        ("dak_ alone", "dak_ alone"),
    ],
)
def test_redact(text: str, kept: str) -> None:
    assert redact(text) == kept


def test_a_key_in_an_exception_message_does_not_reach_the_log(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    try:
        raise ValueError(f"provider refused key {KEY}")
    except ValueError:
        logger.exception("calling with %s failed", KEY)
    (entry,) = lines(stream)
    assert KEY not in stream.getvalue()
    assert entry["message"] == "calling with dak_[redacted] failed"
    assert entry["level"] == "error"
    exception = entry["exception"]
    assert isinstance(exception, str)
    assert "ValueError: provider refused key dak_[redacted]" in exception
    assert "Traceback" in exception


def test_extra_fields_become_json_fields_and_are_scrubbed(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.info("GET /x 200", extra={"status": 200, "route": "/x", "path": f"/x/{KEY}", "request_id": "r1"})
    (entry,) = lines(stream)
    assert entry["status"] == 200
    assert entry["route"] == "/x"
    assert entry["path"] == "/x/dak_[redacted]"
    assert entry["request_id"] == "r1"
    assert entry["logger"] == "dspy_ash.tests.logging"
    assert str(entry["time"]).endswith("+00:00")


def test_arguments_that_do_not_fit_the_format_are_logged_not_raised(
    captured: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = captured
    logger.info("two %s %s", KEY)  # a wrong call in some library must not break the caller
    (entry,) = lines(stream)
    assert KEY not in stream.getvalue()
    assert "two" in str(entry["message"])


def test_logging_config_is_accepted_by_dict_config() -> None:
    import logging.config

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        logging.config.dictConfig(logging_config("warning"))
        (handler,) = root.handlers
        assert isinstance(handler.formatter, JsonFormatter)
        assert any(isinstance(f, RedactingFilter) for f in handler.filters)
        assert root.level == logging.WARNING
        assert logging.getLogger("uvicorn.access").level == logging.CRITICAL  # the service logs its own line
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
