"""Logs as JSON lines, with secrets scrubbed: the service's log format.

    logging.config.dictConfig(logging_config("info"))     # what `dspy-ash serve` does in every worker

`JsonFormatter` writes one JSON object per record (time, level, logger, message, the request fields an
access line carries, the exception). `RedactingFilter` rewrites a record before any handler formats it:
API keys (`dak_...`), bearer tokens, provider keys (`sk-...`) and `api_key=...`-style assignments are
replaced wherever they appear, in the message, its arguments and the exception's text, so a secret
that reaches an error message does not reach the log.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from datetime import UTC, datetime
from typing import Any

REDACTED = "[redacted]"
_SECRETS = re.compile(
    r"""
    \b(?P<kept>dak_|sk-ant-|sk-|(?i:bearer)\s+)[A-Za-z0-9._~+/=-]{6,}       # keys by their prefix
    | (?P<name>(?i:api[_-]?key|secret|password|token|authorization)["']?\s*[:=]\s*["']?)
      (?!\[redacted\])(?:(?i:bearer)\s+)?[^\s"',;}]+                            # name = value
    """,
    re.VERBOSE,
)
# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
# uvicorn's `color_message` repeats the message with terminal colours.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}


def redact(text: str) -> str:
    """`text` with every secret it contains replaced by their prefix and `[redacted]`."""
    return _SECRETS.sub(_replacement, text)


def _replacement(match: re.Match[str]) -> str:
    return (match.group("kept") or match.group("name") or "") + REDACTED


class RedactingFilter(logging.Filter):
    """Scrubs secrets from a record's message, arguments, extra fields and exception, in place (so every
    handler after it, JSON or not, sees the scrubbed record). Never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: log what there is, never raise here
            message = f"{record.msg} {record.args}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD and isinstance(value, str):
                setattr(record, name, redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: `time` (UTC, ISO 8601), `level`, `logger`, `message`, any `extra=`
    fields, and `exception` (the traceback's text) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD and name not in entry:
                entry[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str, ensure_ascii=False)


class StandInFilter(logging.Filter):
    """Labels every record `lm_stand_in` (a JSON line's field, a text line's prefix): the LM is a stand-in."""

    def __init__(self, notice: str) -> None:
        super().__init__()
        self.notice = notice

    def filter(self, record: logging.LogRecord) -> bool:
        record.lm_stand_in = self.notice
        return True


def logging_config(
    level: str = "info", *, json_lines: bool = True, stand_in_notice: str | None = None
) -> dict[str, Any]:
    """A `logging.config.dictConfig` document: everything (dspy-ash's loggers, uvicorn's, the rest) to
    stderr through the redacting filter, as JSON lines (or plain text). uvicorn's own access log is off:
    the service writes its own access line (`dspy_ash.access`), with the route and the caller. With
    `stand_in_notice`, every line carries it."""
    prefix = "[%(lm_stand_in)s] " if stand_in_notice else ""
    formatter = (
        {"()": f"{__name__}.JsonFormatter"}
        if json_lines
        else {"format": f"%(asctime)s %(levelname)s %(name)s: {prefix}%(message)s"}
    )
    filters: dict[str, Any] = {"redact": {"()": f"{__name__}.RedactingFilter"}}
    if stand_in_notice:
        filters["stand_in"] = {"()": f"{__name__}.StandInFilter", "notice": stand_in_notice}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": filters,
        "formatters": {"default": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "filters": list(filters),
                "level": level.upper(),  # also for libraries that set their own loggers' levels lower
                "formatter": "default",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "CRITICAL"},
            # Alembic says which dialect it found each time /readyz compares revisions
            "alembic": {"level": "WARNING"},
        },
    }
