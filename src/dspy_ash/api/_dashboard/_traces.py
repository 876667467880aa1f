"""Traces: the list, and one trace's spans as an indented tree with a waterfall of their times (module,
LM and tool calls; an LM call's prompt, reply, tokens and latency)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from dspy_ash.api._dashboard._web import Viewer, call, drop_none, render, signed_in

router = APIRouter()
SignedIn = Annotated[Viewer, Depends(signed_in)]
Cursor = Annotated[str | None, Query(max_length=1000)]
MAX_INDENT = 8  # deeper spans are drawn at this depth (the CSS has classes depth-0 .. depth-8)
SCALE = 1000  # the waterfall's width in SVG units


@router.get("/traces")
async def traces(
    request: Request,
    viewer: SignedIn,
    program_id: uuid.UUID | None = None,
    status: Literal["ok", "error"] | None = None,
    cursor: Cursor = None,
) -> Response:
    page = await call(
        request, viewer, "traces.list", drop_none(program_id=program_id, status=status, cursor=cursor)
    )
    return render(request, "traces.html", viewer, page=page, program_id=program_id, status=status)


@dataclass(frozen=True, slots=True)
class Bar:
    """A span's place on the waterfall: offset and width in SVG units (at least one, to stay visible)."""

    x: float
    width: float


@dataclass(frozen=True, slots=True)
class Row:
    span: Any
    indent: int
    bar: Bar
    offset: float  # seconds after the trace started


def waterfall(trace: Any) -> list[Row]:
    """The spans in tree order (as the action gives them), each with its indent and its bar."""
    spans = list(trace.spans)
    start = trace.started_at
    ends = [(s.started_at - start).total_seconds() + s.duration for s in spans]
    total = max([trace.duration, *ends]) or 1.0
    rows: list[Row] = []
    for span in spans:
        offset = max(0.0, (span.started_at - start).total_seconds())
        x = min(SCALE - 1.0, SCALE * offset / total)
        width = max(1.0, min(SCALE - x, SCALE * span.duration / total))
        rows.append(Row(span=span, indent=min(span.depth, MAX_INDENT), bar=Bar(round(x, 1), round(width, 1)),
                        offset=offset))  # fmt: skip
    return rows


@router.get("/traces/{trace_id}")
async def trace(request: Request, viewer: SignedIn, trace_id: uuid.UUID) -> Response:
    found = await call(request, viewer, "traces.get", {"trace_id": trace_id})
    program = None
    if found.program_id is not None:
        batch = await call(request, viewer, "programs.by_ids", {"program_ids": [found.program_id]})
        program = batch.items[0] if batch.items else None
    return render(request, "trace.html", viewer, trace=found, rows=waterfall(found), program=program)
