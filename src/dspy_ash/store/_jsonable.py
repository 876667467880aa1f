"""Turning engine values (Examples, Predictions, pydantic models, datetimes, UUIDs) into JSON for storage."""

from __future__ import annotations

import json
import math
import re
import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

# Keys whose values never leave the process: request kwargs can carry an LM's api_key.
_SECRET_KEY = re.compile(r"(api[_-]?key|secret|password|token$|authorization|bearer)", re.IGNORECASE)
REDACTED = "[redacted]"
_MAX_DEPTH = 20


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    # Exact-type checks first: this runs for every recorded span, and ABC isinstance checks
    # (Mapping, Sequence) were most of its cost.
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if _depth > _MAX_DEPTH:
        return repr(value)
    if kind is dict:
        return {k if type(k) is str else str(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [to_jsonable(v, _depth + 1) for v in value]
    if isinstance(value, bool | int | float | str):  # subclasses (enums, str-based types)
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v, _depth + 1) for v in value]
    for method in ("toDict", "model_dump"):  # Example / Prediction, pydantic models
        fn = getattr(value, method, None)
        if callable(fn):
            try:
                return to_jsonable(fn(), _depth + 1)
            except Exception:  # an odd object must not break recording
                break
    return repr(value)


def redact(value: Any) -> Any:
    """A copy with the values of secret-looking keys replaced, at any depth."""
    if isinstance(value, Mapping):
        return {k: (REDACTED if _SECRET_KEY.search(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


class EncodedJSON:
    """JSON text made ahead of the insert (the recorder encodes in one pass; store.bulk passes it through)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _default(value: Any) -> Any:
    return to_jsonable(value)  # only called for what json cannot encode itself: Predictions, UUIDs, ...


_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=_default).encode


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN and infinities are not JSON (PostgreSQL refuses them)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def encode(value: Any) -> EncodedJSON:
    """JSON text of any value in one C-accelerated pass; odd values (NaN, cycles, odd keys) take the slow road."""
    try:
        return EncodedJSON(_encode(value))
    except (ValueError, TypeError, RecursionError):
        return EncodedJSON(_encode(_finite(to_jsonable(value))))
