"""Uploaded dataset text (JSONL, CSV or JSON) read strictly: a malformed line or row is named, not guessed.

The store's file reader (`repos.datasets.import_file`) trusts files on disk; text from the network is
held to bounds (rows, keys per record, key length) and every record must be an object of named values.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Literal

from dspy_ash.actions._errors import ActionError

Format = Literal["jsonl", "csv", "json"]
SPLITS = ("train", "dev", "test")
MAX_RECORDS = 100_000
MAX_KEYS = 200
MAX_KEY_LENGTH = 200


class RecordError(ActionError, ValueError):
    """What is wrong, and where: `where` is "line 3" (JSONL, JSON) or "row 2" (CSV, counting data rows)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where


def read_upload(text: str, fmt: Format) -> list[dict[str, Any]]:
    records = {"jsonl": _jsonl, "csv": _csv, "json": _json}[fmt](text)
    if len(records) > MAX_RECORDS:
        raise RecordError("file", f"more than {MAX_RECORDS} records")
    return records


def _check(record: Any, where: str) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise RecordError(where, f"a record is an object of named values, not {type(record).__name__}")
    checked: dict[str, Any] = record  # pyright: ignore[reportUnknownVariableType]  (json's dicts)
    if len(checked) > MAX_KEYS:
        raise RecordError(where, f"more than {MAX_KEYS} keys")
    for key in checked:
        if not key or len(key) > MAX_KEY_LENGTH:
            raise RecordError(where, f"keys are 1 to {MAX_KEY_LENGTH} characters")
    split = checked.get("split")
    if split is not None and split not in SPLITS:
        raise RecordError(where, f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    return checked


def _jsonl(text: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    # split on "\n" only, as the store's reader does: JSON strings may hold \u2028 raw
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RecordError(f"line {number}", f"not JSON ({exc.msg}, column {exc.colno})") from None
        records.append(_check(record, f"line {number}"))
        if len(records) > MAX_RECORDS:
            break
    return records


def _csv(text: str) -> list[dict[str, Any]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if not header:
            raise RecordError("row 0", "the header row (column names) is missing")
        if len(set(header)) != len(header):
            raise RecordError("row 0", "the header names a column twice")
        records: list[dict[str, Any]] = []
        for number, cells in enumerate(reader, start=1):
            if not cells:
                continue
            if len(cells) != len(header):
                raise RecordError(f"row {number}", f"{len(cells)} cells under a header of {len(header)}")
            record = dict(zip(header, cells, strict=True))
            if record.get("split") == "":  # an exported example without a split: CSV has no null
                del record["split"]
            records.append(_check(record, f"row {number}"))
            if len(records) > MAX_RECORDS:
                break
    except csv.Error as exc:
        raise RecordError(f"row {reader.line_num}", f"not CSV ({exc})") from None
    return records


def _json(text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"line {exc.lineno}", f"not JSON ({exc.msg}, column {exc.colno})") from None
    if isinstance(data, dict) and data and set(data) <= set(SPLITS):  # {"train": [...], "dev": [...]}
        tagged: list[tuple[str, Any]] = [
            (split, record) for split, items in data.items() for record in _list(items, split)
        ]
        return [
            {**_check(r, f"{split} record {i}"), "split": split}
            for i, (split, r) in enumerate(tagged, start=1)
        ]
    if isinstance(data, dict) and "examples" in data:
        data = data["examples"]
    return [_check(record, f"record {i}") for i, record in enumerate(_list(data, "document"), start=1)]


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise RecordError(
            where, "a JSON dataset is a list of records, {'examples': [...]}, or {'train': [...]}"
        )
    return value  # pyright: ignore[reportUnknownVariableType]
