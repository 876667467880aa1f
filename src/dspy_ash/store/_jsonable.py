"""Turning engine values (Examples, Predictions, pydantic models, datetimes, UUIDs) into JSON for storage."""

from __future__ import annotations

import json
import json.encoder
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
    # (Mapping, Sequence) were most of its cost; what they decide for a type is remembered.
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if _depth > _MAX_DEPTH:
        return repr(value)
    if kind is dict:
        return {k if type(k) is str else str(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [to_jsonable(v, _depth + 1) for v in value]
    route = _ROUTES.get(kind)
    if route is None:
        route = _route(value)
    if route is _PLAIN:  # subclasses (enums, str-based types)
        return value
    if route is _UUID:
        return str(value)
    if route is _TIME:
        return value.isoformat()
    if route is _MAPPING:
        return {str(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
    if route is _ITERABLE:
        return [to_jsonable(v, _depth + 1) for v in value]
    for method in ("toDict", "model_dump"):  # Example / Prediction, pydantic models
        fn = getattr(value, method, None)
        if callable(fn):
            try:
                return to_jsonable(fn(), _depth + 1)
            except Exception:  # an odd object must not break recording
                break
    return repr(value)


_PLAIN, _UUID, _TIME, _MAPPING, _ITERABLE, _OBJECT = "plain", "uuid", "time", "mapping", "iterable", "object"
_ROUTES: dict[type, str] = {}


def _route(value: Any) -> str:
    """How `to_jsonable` treats a value, in the order it always tested; remembered for its type (the
    answer is the type's, unless `__class__` lies, as proxies' does: those are asked every time)."""
    if isinstance(value, bool | int | float | str):
        route = _PLAIN
    elif isinstance(value, uuid.UUID):
        route = _UUID
    elif isinstance(value, datetime | date):
        route = _TIME
    elif isinstance(value, Mapping):
        route = _MAPPING
    elif isinstance(value, list | tuple | set | frozenset):
        route = _ITERABLE
    else:
        route = _OBJECT  # per instance: toDict / model_dump / repr
    kind = type(value)
    # types are few; a program minting classes must not grow this forever
    if value.__class__ is kind and len(_ROUTES) < 4096:
        _ROUTES[kind] = route
    return route


def redact(value: Any) -> Any:
    """A copy with the values of secret-looking keys replaced, at any depth."""
    if isinstance(value, Mapping):
        return {k: (REDACTED if _is_secret(k) else redact(v)) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return [redact(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


_SECRET_VERDICTS: dict[str, bool] = {}  # key -> secret-looking; the keys of traced values are few


def _is_secret(key: Any) -> bool:
    if type(key) is not str:
        return _SECRET_KEY.search(str(key)) is not None
    verdict = _SECRET_VERDICTS.get(key)
    if verdict is None:
        verdict = _SECRET_KEY.search(key) is not None
        if len(_SECRET_VERDICTS) < 65536:
            _SECRET_VERDICTS[key] = verdict
    return verdict


def _redaction_changes(value: Any) -> bool:
    """Whether `redact(value)` would differ from `value` in what it encodes to: a secret-looking key, or a
    mapping that is not a dict (redact makes it one), where `redact` looks (mappings and lists)."""
    kind = type(value)
    if kind is dict:
        for k, v in value.items():
            if _is_secret(k):
                return True
            inner = type(v)
            if inner is str or inner is int or inner is float or inner is bool or v is None:
                continue
            if _redaction_changes(v):
                return True
        return False
    if kind is list:
        for v in value:
            inner = type(v)
            if inner is str or inner is int or inner is float or inner is bool or v is None:
                continue
            if _redaction_changes(v):
                return True
        return False
    if kind is str or kind is int or kind is float or kind is bool or value is None or kind is tuple:
        return False
    return isinstance(value, Mapping | list)  # subclasses: left to `redact` itself


def redacted_text(value: Any) -> str:
    """`encode(redact(value)).text` without copying what has nothing to redact (the common case)."""
    try:
        changes = _redaction_changes(value)
    except RecursionError:
        changes = True  # redact meets the same depth and says so
    return text(redact(value) if changes else value)


def text(value: Any) -> str:
    """`encode(value).text`: JSON text of any value in one C-accelerated pass; odd values (NaN, cycles,
    odd keys) take the slow road."""
    try:
        if _c_encode is None:
            return _slow_encode(value)
        if _ROUTES.get(type(value)) is _OBJECT:  # a Prediction, say: what the encoder would ask `default`
            value = to_jsonable(value)
        return "".join(_c_encode(value, 0))
    except (ValueError, TypeError, RecursionError):
        return _slow_encode(_finite(to_jsonable(value)))


class EncodedJSON:
    """JSON text made ahead of the insert (the recorder encodes in one pass; store.bulk passes it through)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def _default(value: Any) -> Any:
    return to_jsonable(value)  # only called for what json cannot encode itself: Predictions, UUIDs, ...


_slow_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=_default).encode
# The C encoder itself, made once: JSONEncoder.encode builds one per call, a third of the cost of a
# small value. No circular-reference markers (they would need a fresh encoder per call): a cycle ends
# in RecursionError instead of ValueError, and both take the slow road below.
_make_c_encoder: Any = getattr(json.encoder, "c_make_encoder", None)  # None without the C accelerator
_c_encode: Any = (
    None
    if _make_c_encoder is None
    else _make_c_encoder(
        None, _default, json.encoder.encode_basestring, None, ": ", ", ", False, False, False
    )
)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN and infinities are not JSON (PostgreSQL refuses them)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return [_finite(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def encode(value: Any) -> EncodedJSON:
    """JSON text of any value in one C-accelerated pass; odd values (NaN, cycles, odd keys) take the slow road."""
    return EncodedJSON(text(value))
