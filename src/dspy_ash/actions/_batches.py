"""Batch reads for GraphQL's DataLoaders, and a run's progress for its subscription. No REST routes.

A query for a page of programs with their versions asks `versions.by_programs` once for the whole page
(one statement), not once per program. Each batch names at most `MAX_BATCH` ids, as a page holds.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from dspy_ash.actions._context import ActionContext
from dspy_ash.actions._programs import ProgramPublic
from dspy_ash.actions._registry import action
from dspy_ash.actions._schemas import MAX_PAGE, Public, Request
from dspy_ash.actions._versions import VersionPublic
from dspy_ash.store import repos

MAX_BATCH = MAX_PAGE  # a batch loads what one page of parents needs


class ProgramsByIds(Request):
    program_ids: list[uuid.UUID] = Field(max_length=MAX_BATCH)


class ProgramBatch(Public):
    """The programs found; another tenant's ids (or deleted ones) are simply absent."""

    items: list[ProgramPublic]


class VersionsByPrograms(Request):
    program_ids: list[uuid.UUID] = Field(max_length=MAX_BATCH)
    first: int = Field(50, ge=1, le=MAX_PAGE, description="versions per program")
    after_number: int | None = Field(None, ge=0, description="only versions numbered above this")


class VersionGroup(Public):
    program_id: uuid.UUID
    items: list[VersionPublic]
    has_more: bool


class VersionGroups(Public):
    """One group per asked program, in the order asked (empty for another tenant's programs)."""

    groups: list[VersionGroup]


RunKind = Literal["optimizer", "evaluation"]


class RunRef(Request):
    run_id: uuid.UUID
    kind: RunKind = "optimizer"


class RunProgress(Public):
    id: uuid.UUID
    kind: RunKind
    status: str
    progress: float
    message: str
    score: float | None
    error: str | None
    terminal: bool
    updated_at: datetime


@action("programs.by_ids", resource="program", kind="read", scope="programs:read")
async def programs_by_ids(ctx: ActionContext, request: ProgramsByIds) -> ProgramBatch:
    """Several programs by id, in one query."""
    rows = await repos.programs.get_programs(
        ctx.session, tenant_id=ctx.tenant_id, program_ids=list(dict.fromkeys(request.program_ids))
    )
    return ProgramBatch(items=[ProgramPublic.model_validate(row) for row in rows])


@action("versions.by_programs", resource="program_version", kind="read", scope="programs:read")
async def versions_by_programs(ctx: ActionContext, request: VersionsByPrograms) -> VersionGroups:
    """The first versions of several programs (by number), in one query."""
    asked = list(dict.fromkeys(request.program_ids))
    rows = await repos.versions.list_first_versions_of(
        ctx.session,
        tenant_id=ctx.tenant_id,
        program_ids=asked,
        per_program=request.first + 1,  # one more tells whether there is a next page
        after_number=request.after_number,
    )
    grouped: dict[uuid.UUID, list[VersionPublic]] = {program_id: [] for program_id in asked}
    for row in rows:
        grouped[row.program_id].append(VersionPublic.model_validate(row))
    return VersionGroups(
        groups=[
            VersionGroup(program_id=p, items=items[: request.first], has_more=len(items) > request.first)
            for p, items in grouped.items()
        ]
    )


@action("runs.progress", resource="optimizer_run", kind="read", scope="runs:read")
async def run_progress(ctx: ActionContext, request: RunRef) -> RunProgress:
    """A run's status and progress (what its subscription reports until the run ends)."""
    run = await repos.runs.get_run(
        ctx.session, tenant_id=ctx.tenant_id, kind=request.kind, run_id=request.run_id
    )
    return RunProgress(
        id=run.id,
        kind=request.kind,
        status=run.status,
        progress=run.progress,
        message=run.progress_message,
        score=run.score,
        error=run.error,
        terminal=run.status in repos.runs.TERMINAL,
        updated_at=run.updated_at,
    )
