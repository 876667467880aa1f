"""Runs: optimizer and evaluation runs listed; a run with its progress (a fragment htmx polls while the run
is not finished), its trials or per-example results, and cancel and resume."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from dspy_ash.api._dashboard._web import PREFIX, Viewer, back_to, call, drop_none, render, signed_in

router = APIRouter()
SignedIn = Annotated[Viewer, Depends(signed_in)]
Cursor = Annotated[str | None, Query(max_length=1000)]
RunKind = Literal["optimizer", "evaluation"]
Status = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FINISHED = frozenset({"succeeded", "failed", "cancelled"})
RESULTS_SHOWN = 100
POLL_SECONDS = 1.5


@router.get("/runs")
async def runs(
    request: Request,
    viewer: SignedIn,
    program_id: uuid.UUID | None = None,
    status: Status | None = None,
    optimizer_cursor: Cursor = None,
    evaluation_cursor: Cursor = None,
) -> Response:
    query = drop_none(program_id=program_id, status=status)
    optimizer = await call(
        request, viewer, "optimizer_runs.list", drop_none(**query, cursor=optimizer_cursor)
    )
    evaluation = await call(
        request, viewer, "evaluation_runs.list", drop_none(**query, cursor=evaluation_cursor)
    )
    names = await _program_names(request, viewer, [*optimizer.items, *evaluation.items])
    return render(request, "runs.html", viewer, optimizer=optimizer, evaluation=evaluation, names=names,
                  program_id=program_id, status=status)  # fmt: skip


async def _program_names(request: Request, viewer: Viewer, items: list[Any]) -> dict[uuid.UUID, str]:
    ids = list(dict.fromkeys(item.program_id for item in items))
    if not ids:
        return {}
    batch = await call(request, viewer, "programs.by_ids", {"program_ids": ids})
    return {p.id: p.name for p in batch.items}


async def _run_view(
    request: Request, viewer: Viewer, kind: RunKind, run_id: uuid.UUID, results_cursor: str | None = None
) -> dict[str, Any]:
    """What the run page and its live fragment show (an evaluation's results a page at a time)."""
    run = await call(request, viewer, f"{kind}_runs.get", {"run_id": run_id})
    view: dict[str, Any] = {"kind": kind, "run": run, "finished": run.status in FINISHED,
                            "poll": f"{POLL_SECONDS}s"}  # fmt: skip
    if kind == "evaluation":
        view["summary"] = await call(request, viewer, "evaluation_runs.summary", {"run_id": run_id})
        results = await call(request, viewer, "evaluation_runs.results",
                             drop_none(run_id=run_id, limit=RESULTS_SHOWN, cursor=results_cursor))  # fmt: skip
        view["results"], view["results_next"] = results.items, results.next_cursor
        view["results_cursor"] = results_cursor
    else:
        view["chart"] = trial_chart(run.trials)
    return view


@router.get("/runs/{kind}/{run_id}")
async def run_page(
    request: Request, viewer: SignedIn, kind: RunKind, run_id: uuid.UUID, results_cursor: Cursor = None
) -> Response:
    view = await _run_view(request, viewer, kind, run_id, results_cursor)
    run = view["run"]
    batch = await call(request, viewer, "programs.by_ids", {"program_ids": [run.program_id]})
    program = batch.items[0] if batch.items else None
    peers: list[Any] = []
    if kind == "evaluation":  # the program's other evaluations of the same dataset, to compare with
        others = await call(request, viewer, "evaluation_runs.list", {"program_id": run.program_id})
        peers = [r for r in others.items if r.id != run.id and r.dataset_id == run.dataset_id]
    return render(request, "run.html", viewer, program=program, peers=peers, **view)


@router.get("/runs/{kind}/{run_id}/live")
async def run_live(
    request: Request, viewer: SignedIn, kind: RunKind, run_id: uuid.UUID, results_cursor: Cursor = None
) -> Response:
    """The part of the run page that changes while it runs; it stops asking once the run is finished."""
    view = await _run_view(request, viewer, kind, run_id, results_cursor)
    return render(request, "run_live.html", viewer, **view)


@router.post("/runs/{kind}/{run_id}/{verb}")
async def change_run(
    request: Request, viewer: SignedIn, kind: RunKind, run_id: uuid.UUID, verb: Literal["cancel", "resume"]
) -> Response:
    await call(request, viewer, f"{kind}_runs.{verb}", {"run_id": run_id})
    return back_to(f"{PREFIX}/runs/{kind}/{run_id}")


def trial_chart(trials: list[dict[str, Any]], width: int = 600, height: int = 160) -> dict[str, Any] | None:
    """Score by trial as SVG coordinates (a polyline and its points), or None without two scored trials.
    The y axis spans the scores seen (a flat line sits in the middle)."""
    scores = [float(t["score"]) for t in trials if isinstance(t.get("score"), int | float)]
    if not scores:
        return None
    low, high = min(scores), max(scores)
    span = high - low
    pad = 12

    def x(i: int) -> float:
        return pad + (width - 2 * pad) * (i / (len(scores) - 1) if len(scores) > 1 else 0.5)

    def y(score: float) -> float:
        where = (score - low) / span if span else 0.5
        return height - pad - (height - 2 * pad) * where

    points = [(round(x(i), 1), round(y(s), 1), s) for i, s in enumerate(scores)]
    best = max(range(len(scores)), key=lambda i: scores[i])
    return {
        "width": width,
        "height": height,
        "line": " ".join(f"{px},{py}" for px, py, _ in points),
        "points": points,
        "best": points[best],
        "low": low,
        "high": high,
    }
