"""Programs: the list; a program with its versions (promote one to serving), its declarative steps, its
monitoring figures and chart over time, and its playground; the diff of two versions side by side."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from dspy_ash.api._dashboard._activity import Window
from dspy_ash.api._dashboard._playground import FIELD_PREFIX, JSON_FIELD, Attempt, input_names, run
from dspy_ash.api._dashboard._web import PREFIX, Viewer, back_to, call, drop_none, render, signed_in

router = APIRouter()
SignedIn = Annotated[Viewer, Depends(signed_in)]
Cursor = Annotated[str | None, Query(max_length=1000)]
VERSIONS_SHOWN = 100


@router.get("/programs")
async def programs(request: Request, viewer: SignedIn, cursor: Cursor = None) -> Response:
    page = await call(request, viewer, "programs.list", drop_none(cursor=cursor, include=["versions"]))
    rows = [(p, _serving(p.serving_version_id, p.versions or [])) for p in page.items]
    return render(request, "programs.html", viewer, rows=rows, next_cursor=page.next_cursor)


def _serving(serving_id: uuid.UUID | None, versions: list[Any]) -> Any:
    """The version `execute` serves: the promoted one, else the latest (None: the program has none)."""
    if serving_id is not None:
        return next((v for v in versions if v.id == serving_id), None)
    return max(versions, key=lambda v: v.number, default=None)


@router.get("/programs/{program_id}")
async def program(
    request: Request, viewer: SignedIn, program_id: uuid.UUID, cursor: Cursor = None, window: Window = "24h"
) -> Response:
    return await program_page(request, viewer, program_id, cursor=cursor, window=window)


async def program_page(
    request: Request,
    viewer: Viewer,
    program_id: uuid.UUID,
    *,
    cursor: str | None = None,
    window: Window = "24h",
    attempt: Attempt | None = None,
) -> Response:
    """The program's page; after a playground post without htmx, with the execution's result in it."""
    found = await call(request, viewer, "programs.get", {"program_id": program_id})
    versions = await call(
        request,
        viewer,
        "versions.list",
        drop_none(program_id=program_id, sort="-number", limit=VERSIONS_SHOWN, cursor=cursor),
    )
    stats = await call(request, viewer, "programs.stats", {"program_id": program_id})
    serving = found.serving_version_id
    if serving is None and versions.items and cursor is None:  # unpromoted: the latest serves
        serving = versions.items[0].id
    steps = (found.spec or {}).get("steps", [])
    return render(request, "program.html", viewer, http_status=attempt.status if attempt else 200,
                  program=found, versions=versions.items, next_cursor=versions.next_cursor, serving=serving,
                  stats=stats, steps=steps, promoted=found.serving_version_id is not None, window=window,
                  inputs=input_names(found), attempt=attempt or Attempt(), ran=attempt is not None,
                  field_prefix=FIELD_PREFIX, json_field=JSON_FIELD)  # fmt: skip


@router.post("/programs/{program_id}/playground")
async def playground(request: Request, viewer: SignedIn, program_id: uuid.UUID) -> Response:
    """Run the program once from the playground's form: the result as a fragment for htmx, else the
    program's page with it."""
    found = await call(request, viewer, "programs.get", {"program_id": program_id})
    attempt = await run(request, viewer, found)
    if request.headers.get("hx-request"):
        return render(request, "playground_result.html", viewer, http_status=attempt.status, attempt=attempt,
                      ran=True)  # fmt: skip
    return await program_page(request, viewer, program_id, attempt=attempt)


@router.post("/programs/{program_id}/versions/{version_id}/promote")
async def promote(
    request: Request, viewer: SignedIn, program_id: uuid.UUID, version_id: uuid.UUID
) -> Response:
    await call(request, viewer, "versions.promote", {"program_id": program_id, "version_id": version_id})
    return back_to(f"{PREFIX}/programs/{program_id}")


@router.get("/programs/{program_id}/diff")
async def diff(
    request: Request, viewer: SignedIn, program_id: uuid.UUID, version_id: uuid.UUID, against: uuid.UUID
) -> Response:
    found = await call(request, viewer, "programs.get", {"program_id": program_id})
    payload = {"program_id": program_id, "version_id": version_id, "against": against}
    changes = await call(request, viewer, "versions.diff", payload)
    predictors = [(name, _sides(entry)) for name, entry in sorted(changes.predictors.items())]
    return render(request, "diff.html", viewer, program=found, diff=changes, predictors=predictors)


def _sides(entry: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """One predictor's changes as rows of (what, old side, new side)."""
    if entry.get("added") or entry.get("removed"):
        which = "added" if entry.get("added") else "removed"
        return [("predictor", "—" if which == "added" else "present", "present" if which == "added" else "—")]
    rows: list[tuple[str, Any, Any]] = []
    for part in ("instructions", "fields", "lm"):
        if part in entry:
            rows.append((part, entry[part]["old"], entry[part]["new"]))
    if "demos" in entry:
        rows.append(("demos", entry["demos"]["removed"], entry["demos"]["added"]))
    for name, change in sorted(entry.get("other", {}).items()):
        rows.append((name, change["old"], change["new"]))
    return rows
