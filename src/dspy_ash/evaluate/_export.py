"""Evaluation results as rows: for the table, CSV and JSON exports (DSPy's column layout)."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

logger = logging.getLogger("dspy_ash.evaluate")


def _as_dict(value: Any) -> dict[str, Any]:
    if hasattr(value, "toDict"):
        return value.toDict()
    return dict(value)


def merge_dicts(example: Any, prediction: Any) -> dict[str, Any]:
    """Example and prediction fields side by side; a key in both becomes `example_k` and `pred_k`."""
    d1, d2 = _as_dict(example), _as_dict(prediction)
    merged: dict[str, Any] = {}
    for key, value in d1.items():
        merged[f"example_{key}" if key in d2 else key] = value
    for key, value in d2.items():
        merged[f"pred_{key}" if key in d1 else key] = value
    return merged


def result_rows(results: list[tuple[Any, Any, Any]], metric_name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for example, prediction, score in results:
        if hasattr(prediction, "items") and callable(prediction.items):
            rows.append(merge_dicts(example, prediction) | {metric_name: score})
        else:
            rows.append(example.toDict() | {"prediction": prediction, metric_name: score})
    return rows


def save_csv(path: str | Path, rows: list[dict[str, Any]]) -> None:
    fieldnames: list[str] = []
    for row in rows:  # union of columns: rows of failed examples lack the prediction's fields
        fieldnames.extend(k for k in row if k not in fieldnames)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)


def save_json(path: str | Path, rows: list[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(rows, f, default=_jsonable)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "toDict"):
        return value.toDict()
    return str(value)


def _truncate(content: Any) -> Any:
    words = str(content).split()
    return " ".join(words[:25]) + "..." if len(words) > 25 else content


def display_table(rows: list[dict[str, Any]], limit: bool | int, metric_name: str) -> None:
    """Print the first rows (all if `limit is True`) with rich if present, else through logging."""
    shown = rows if isinstance(limit, bool) else rows[:limit]
    columns: list[str] = []
    for row in shown:
        columns.extend(k for k in row if k not in columns)
    cells = [[_format_cell(c, row.get(c), metric_name) for c in columns] for row in shown]
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        logger.info("%s", "\n".join(" | ".join(r) for r in [columns, *cells]))
    else:
        table = Table(*columns)
        for r in cells:
            table.add_row(*r)
        Console().print(table)
    if not isinstance(limit, bool) and len(rows) > limit:
        logger.info("... %d more rows not displayed ...", len(rows) - limit)


def _format_cell(column: str, value: Any, metric_name: str) -> str:
    if column != metric_name:
        return str(_truncate(value)) if value is not None else ""
    if isinstance(value, float):
        return f"✔️ [{value:.3f}]"
    return f"✔️ [{value}]" if value is not None else ""
