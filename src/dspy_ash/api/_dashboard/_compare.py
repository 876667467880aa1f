"""Two evaluation runs of the same dataset side by side, example by example: the inputs, the gold labels,
both predictions and both scores, and whether they differ; paged, optionally only the differing ones.

Results are matched by example (`example_id`), else by position. Both runs' results and the dataset's
examples are read through their list actions up to COMPARE_MAX each; past that the page says so.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from dspy_ash.actions import FieldProblem, InvalidRequestError
from dspy_ash.api._dashboard._datasets import split_example
from dspy_ash.api._dashboard._web import Viewer, call, render, signed_in

router = APIRouter()
SignedIn = Annotated[Viewer, Depends(signed_in)]
COMPARE_MAX = 2000  # results per run, and examples, read for one comparison
PAGE_SIZE = 50
BATCH = 200  # the actions' largest page


@dataclass(frozen=True, slots=True)
class Row:
    """One example's line: its inputs and gold labels (when the dataset is known) and each run's result."""

    position: int
    inputs: dict[str, Any] | None
    gold: dict[str, Any] | None
    a: Any  # a ResultPublic, or None: that run has no result for the example
    b: Any

    @property
    def differs(self) -> bool:
        if self.a is None or self.b is None:
            return True
        return (self.a.prediction != self.b.prediction or not _same(self.a.score, self.b.score)
                or self.a.error != self.b.error)  # fmt: skip


def _same(x: float | None, y: float | None) -> bool:
    if x is None or y is None or math.isnan(x) or math.isnan(y):
        return (x is None or math.isnan(x)) == (y is None or math.isnan(y))
    return math.isclose(x, y, abs_tol=1e-9)


async def _all(fetch: Callable[[str | None], Any]) -> tuple[list[Any], bool]:
    """Every item of a list action, page by page, up to COMPARE_MAX; and whether more were left."""
    items: list[Any] = []
    cursor: str | None = None
    while True:
        page = await fetch(cursor)
        items.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return items, False
        if len(items) >= COMPARE_MAX:
            return items[:COMPARE_MAX], True


def _key(result: Any) -> Any:
    return result.example_id if result.example_id is not None else result.position


def pair(a: list[Any], b: list[Any], examples: dict[Any, Any], input_keys: list[str]) -> list[Row]:
    """The two runs' results side by side, in the first run's order, then those only the second has."""
    by_key_b = {_key(r): r for r in b}
    keys = list(dict.fromkeys([*(_key(r) for r in a), *by_key_b]))
    by_key_a = {_key(r): r for r in a}
    rows: list[Row] = []
    for key in keys:
        first, second = by_key_a.get(key), by_key_b.get(key)
        position = first.position if first is not None else by_key_b[key].position
        example = examples.get(key)
        inputs, gold = split_example(example.data, input_keys) if example is not None else (None, None)
        rows.append(Row(position, inputs, gold, first, second))
    return rows


def _refuse(message: str) -> InvalidRequestError:
    return InvalidRequestError(message, [FieldProblem("query.run_id", message)])


@router.get("/runs/compare")
async def compare(
    request: Request,
    viewer: SignedIn,
    run_id: Annotated[list[uuid.UUID], Query(max_length=2)],
    only: Annotated[str | None, Query(pattern="^differing$")] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    ids = list(dict.fromkeys(run_id))
    if len(ids) != 2:
        raise _refuse("pick two different evaluation runs to compare")
    runs = [await call(request, viewer, "evaluation_runs.get", {"run_id": i}) for i in ids]
    if runs[0].dataset_id != runs[1].dataset_id:
        raise _refuse("the two runs evaluated different datasets; only runs of the same dataset compare")
    truncated = False
    results: list[list[Any]] = []
    for run in runs:
        items, more = await _all(lambda c, run=run: call(request, viewer, "evaluation_runs.results",
                                                          {"run_id": run.id, "limit": BATCH, "cursor": c}))  # fmt: skip
        results.append(items)
        truncated |= more
    dataset, examples = None, {}
    if runs[0].dataset_id is not None:
        dataset = await call(request, viewer, "datasets.get", {"dataset_id": runs[0].dataset_id})
        split = runs[0].split if runs[0].split == runs[1].split else None
        rows, more = await _all(lambda c: call(request, viewer, "examples.list", {"dataset_id": dataset.id,
                                "split": split, "limit": BATCH, "cursor": c}))  # fmt: skip
        truncated |= more
        # results name their example, or else their place in the run's examples (the split's order)
        examples = {**dict(enumerate(rows)), **{e.id: e for e in rows}}
    paired = pair(results[0], results[1], examples, dataset.input_keys if dataset else [])
    differing = sum(1 for r in paired if r.differs)
    shown = [r for r in paired if r.differs] if only else paired
    pages = max(1, math.ceil(len(shown) / PAGE_SIZE))
    page = min(page, pages)
    names = await call(request, viewer, "programs.by_ids",
                       {"program_ids": list(dict.fromkeys(r.program_id for r in runs))})  # fmt: skip
    return render(request, "compare.html", viewer, a=runs[0], b=runs[1], dataset=dataset,
                  rows=shown[(page - 1) * PAGE_SIZE : page * PAGE_SIZE], total=len(paired), differing=differing,
                  only=only, page=page, pages=pages, truncated=truncated, limit=COMPARE_MAX,
                  programs={p.id: p.name for p in names.items})  # fmt: skip
