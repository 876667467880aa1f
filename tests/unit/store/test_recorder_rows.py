"""The recorder's cheap equivalents are exact: ids, stored times and JSON text match what the slower
code they replace (uuid.uuid4, datetime, the JSONEncoder after a full redaction copy) produces."""

from __future__ import annotations

import json
import math
import re
import uuid
from collections import UserDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from dspy_ash.primitives import Prediction
from dspy_ash.store._bulk import StoredRows, time_text
from dspy_ash.store._jsonable import encode, redact, redacted_text, text, to_jsonable
from dspy_ash.store._recorder import REQUEST_COLUMNS, SPAN_COLUMNS, TRACE_COLUMNS, random_ids
from dspy_ash.store.models import LMRequestLog, Trace, TraceSpan

# -- the code the recorder used before, kept here as the reference --------------------------------------
_SECRET = re.compile(r"(api[_-]?key|secret|password|token$|authorization|bearer)", re.IGNORECASE)
_reference_json = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=to_jsonable).encode


def _reference_redact(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            k: ("[redacted]" if _SECRET.search(str(k)) else _reference_redact(v))
            for k, v in value.items()  # pyright: ignore[reportUnknownVariableType]
        }
    if isinstance(value, list):
        return [_reference_redact(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return [_finite(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def _reference_encode(value: Any) -> str:
    try:
        return _reference_json(value)
    except (ValueError, TypeError, RecursionError):
        return _reference_json(_finite(to_jsonable(value)))


# -- values as the engine hands them over ---------------------------------------------------------------
keys = st.sampled_from(
    [
        "role",
        "content",
        "api_key",
        "API-KEY",
        "apikey",
        "token",
        "tokens",
        "max_tokens",
        "ſecret",
        "password2",
        "x",
    ]
) | st.text(max_size=6)
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.builds(lambda answer: Prediction(answer=answer), st.text(max_size=5))  # pyright: ignore[reportUnknownLambdaType]
    | st.uuids()
)


def _mapping(items: dict[Any, Any]) -> Any:
    return UserDict(items)  # a Mapping that is not a dict: redaction makes it one


values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(keys, children, max_size=4)
        | st.dictionaries(st.integers() | st.booleans(), children, max_size=2)
        | st.dictionaries(keys, children, max_size=3).map(_mapping)
    ),
    max_leaves=25,
)

MESSAGES = [
    {"role": "system", "content": "Your input fields are:\n1. `question` (str)"},
    {"role": "user", "content": "[[ ## question ## ]]\nWhat is my password?"},
]


@given(values)
@example(MESSAGES)
@example({"kwargs": {"api_key": "sk-1", "temperature": 0.0}})
@example({"nested": [{"Authorization": "Bearer x"}], "t": (1, {"token": "kept: redact skips tuples"})})
def test_redacted_text_is_the_json_of_the_redacted_copy(value: Any) -> None:
    assert redacted_text(value) == _reference_encode(_reference_redact(value))
    assert redact(value) == _reference_redact(value) or _has_nan(value)


@given(values)
def test_text_is_what_the_json_encoder_made(value: Any) -> None:
    assert text(value) == encode(value).text == _reference_encode(value)


def _has_nan(value: Any) -> bool:
    return "NaN" in repr(value)  # NaN != NaN: the copies are the same, == cannot say so


def test_cycles_and_odd_values_take_the_slow_road_to_the_same_text() -> None:
    looped: list[Any] = []
    looped.append(looped)
    for value in (looped, {"x": float("nan")}, {(1, 2): "tuple key"}, {"p": Prediction(answer="a")}):
        assert text(value) == _reference_encode(value)
    deep: Any = "leaf"
    for _ in range(5000):
        deep = [deep]
    for encoder in (text, _reference_encode):  # too deep for any encoder: the same error either way
        with pytest.raises(RecursionError):
            encoder(deep)
    assert redacted_text({"api_key": deep}) == '{"api_key": "[redacted]"}'


# -- ids and times --------------------------------------------------------------------------------------
def test_random_ids_are_version_4_uuids() -> None:
    ids = random_ids(2000)
    assert len(set(ids)) == 2000
    for hexed in ids:
        parsed = uuid.UUID(hexed)
        assert (parsed.version, parsed.variant, parsed.hex) == (4, uuid.RFC_4122, hexed)
    variants = {hexed[16] for hexed in ids}
    assert variants == set("89ab")  # the two random bits of the variant nibble are kept


timestamps = st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False) | st.sampled_from(
    [1_764_000_000.0000005, 1_764_000_000.9999995, 1_764_000_000.0000015, 0.0, 1.5e-6]
)


@given(timestamps)
def test_time_text_is_the_datetime_as_stored(timestamp: float) -> None:
    when = datetime.fromtimestamp(timestamp, UTC)
    naive = when.replace(tzinfo=None).isoformat(" ", "microseconds")  # what BulkInsert wrote on SQLite
    assert time_text("sqlite")(timestamp) == naive
    assert time_text("postgresql")(timestamp) == f"{naive}+00:00"
    assert datetime.fromisoformat(time_text("postgresql")(timestamp)) == when


# -- the statements -------------------------------------------------------------------------------------
def test_stored_rows_name_every_column_once() -> None:
    for model, columns in (
        (Trace, TRACE_COLUMNS),
        (TraceSpan, SPAN_COLUMNS),
        (LMRequestLog, REQUEST_COLUMNS),
    ):
        StoredRows(model, "sqlite", columns)
        with pytest.raises(ValueError, match="each of its columns once"):
            StoredRows(model, "sqlite", columns[:-1])
        with pytest.raises(ValueError, match="each of its columns once"):
            StoredRows(model, "sqlite", (*columns[:-1], columns[0]))


def test_postgresql_casts_strings_to_text_so_lengths_are_checked_not_truncated() -> None:
    sql = StoredRows(TraceSpan, "postgresql", SPAN_COLUMNS).batch_sql
    assert "::text" in sql and "VARCHAR" not in sql and "(r->>0)::UUID" in sql
    assert "jsonb_array_elements(%s::jsonb)" in sql


def test_a_batch_json_cannot_hold_is_refused_for_the_driver_to_take() -> None:
    rows = StoredRows(LMRequestLog, "postgresql", REQUEST_COLUMNS)
    assert json.loads(rows.document([("a", 1.5, None, True)])) == [["a", 1.5, None, True]]
    with pytest.raises(ValueError):
        rows.document([("a", float("nan"))])


def test_a_big_batch_is_encoded_in_chunks_into_one_document() -> None:
    from dspy_ash.store._bulk import DOCUMENT_CHUNK

    rows = StoredRows(LMRequestLog, "postgresql", REQUEST_COLUMNS)
    for n in (1, DOCUMENT_CHUNK - 1, DOCUMENT_CHUNK, DOCUMENT_CHUNK + 1, 3 * DOCUMENT_CHUNK + 7):
        batch = [(f"id-{i}", i, i / 3, None, i % 2 == 0) for i in range(n)]
        assert json.loads(rows.document(batch)) == [list(row) for row in batch]
