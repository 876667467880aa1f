"""Datasets: the list; a dataset with its splits' sizes and its examples page by page (one split or
all); its export as a file download (JSONL, CSV or JSON, the whole dataset or one split)."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from dspy_ash.api._dashboard._web import Viewer, call, drop_none, render, signed_in

router = APIRouter()
SignedIn = Annotated[Viewer, Depends(signed_in)]
Cursor = Annotated[str | None, Query(max_length=1000)]
Split = Literal["train", "dev", "test"]
Format = Literal["jsonl", "csv", "json"]
EXAMPLES_SHOWN = 50
MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv", "json": "application/json"}


@router.get("/datasets")
async def datasets(request: Request, viewer: SignedIn, cursor: Cursor = None) -> Response:
    page = await call(request, viewer, "datasets.list", drop_none(cursor=cursor, sort="-created_at"))
    return render(request, "datasets.html", viewer, page=page)


def split_example(data: dict[str, Any], input_keys: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """An example's inputs and its labels (the other keys but `split`), in the record's order."""
    inputs = {k: v for k, v in data.items() if k in input_keys}
    labels = {k: v for k, v in data.items() if k not in input_keys and k != "split"}
    return inputs, labels


@router.get("/datasets/{dataset_id}")
async def dataset(
    request: Request,
    viewer: SignedIn,
    dataset_id: uuid.UUID,
    split: Split | None = None,
    cursor: Cursor = None,
) -> Response:
    found = await call(request, viewer, "datasets.get", {"dataset_id": dataset_id})
    sizes = await call(request, viewer, "datasets.splits", {"dataset_id": dataset_id})
    page = await call(request, viewer, "examples.list",
                      drop_none(dataset_id=dataset_id, split=split, cursor=cursor, limit=EXAMPLES_SHOWN))  # fmt: skip
    rows = [(e, *split_example(e.data, found.input_keys)) for e in page.items]
    return render(request, "dataset.html", viewer, dataset=found, sizes=sizes, rows=rows,
                  next_cursor=page.next_cursor, split=split, formats=list(MEDIA_TYPES))  # fmt: skip


def _filename(name: str, split: str | None, fmt: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "dataset"
    return f"{stem}{'-' + split if split else ''}.{fmt}"


@router.get("/datasets/{dataset_id}/export")
async def export(
    request: Request,
    viewer: SignedIn,
    dataset_id: uuid.UUID,
    format: Format = "jsonl",
    split: Split | None = None,
) -> Response:
    """The file the export action writes, as a download."""
    found = await call(request, viewer, "datasets.get", {"dataset_id": dataset_id})
    done = await call(request, viewer, "datasets.export",
                      drop_none(dataset_id=dataset_id, format=format, split=split))  # fmt: skip
    disposition = f'attachment; filename="{_filename(found.name, split, format)}"'
    return Response(done.content, media_type=MEDIA_TYPES[format],
                    headers={"content-disposition": disposition})  # fmt: skip
