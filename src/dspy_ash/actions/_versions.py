"""Program versions: immutable saved states in DSPy's JSON shape; list, get, diff, import and export."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field, RootModel

from dspy_ash.actions._context import ActionContext
from dspy_ash.actions._paging import page_of
from dspy_ash.actions._registry import Http, action
from dspy_ash.actions._schemas import ListRequest, Page, Public, Request
from dspy_ash.store import NotFoundError, repos
from dspy_ash.store.models import ProgramVersion


class VersionPublic(Public):
    id: uuid.UUID
    program_id: uuid.UUID
    number: int
    parent_id: uuid.UUID | None
    optimizer_run_id: uuid.UUID | None
    dataset_id: uuid.UUID | None
    metric: str | None
    score: float | None
    scores: dict[str, Any]
    content_hash: str
    note: str
    created_at: datetime


class VersionDetail(VersionPublic):
    state: dict[str, Any] = Field(description="the saved program, as DSPy's `save()` writes it")


class VersionList(ListRequest):
    program_id: uuid.UUID
    sort: str = Field(
        "number", max_length=64, description="`number`, `created_at` or `score`; `-` for descending"
    )


class VersionRef(Request):
    program_id: uuid.UUID
    version_id: uuid.UUID


class VersionImport(Request):
    program_id: uuid.UUID
    state: dict[str, Any] = Field(description="a program saved by DSPy or dspy-ash (`program.save(path)`)")
    parent_id: uuid.UUID | None = None
    note: str = Field("", max_length=10_000)


class VersionDiff(Request):
    program_id: uuid.UUID
    version_id: uuid.UUID
    against: uuid.UUID = Field(description="the older version to compare with")


class VersionDiffPublic(Public):
    old: int
    new: int
    predictors: dict[str, Any]
    score: dict[str, float | None]


class SavedProgram(RootModel[dict[str, Any]]):
    """DSPy's saved-program JSON, to write to a file and `program.load(path)` in either library."""


async def version_of(ctx: ActionContext, program_id: uuid.UUID, version_id: uuid.UUID) -> ProgramVersion:
    """The version, if it is this program's: another program's version is as missing as a foreign one."""
    version = await repos.versions.get_version(ctx.session, tenant_id=ctx.tenant_id, version_id=version_id)
    if version.program_id != program_id:
        raise NotFoundError("program_version", version_id)
    return version


@action("versions.list", resource="program_version", kind="list", scope="programs:read",
        http=Http("GET", "/programs/{program_id}/versions"))  # fmt: skip
async def list_versions(ctx: ActionContext, request: VersionList) -> Page[VersionPublic]:
    """List a program's versions."""
    await repos.programs.get_program(ctx.session, tenant_id=ctx.tenant_id, program_id=request.program_id)
    mine = ProgramVersion.program_id == request.program_id
    return await page_of(ctx, ProgramVersion, VersionPublic, request, mine, sorts=("number", "created_at"))


@action("versions.get", resource="program_version", kind="read", scope="programs:read",
        http=Http("GET", "/programs/{program_id}/versions/{version_id}"))  # fmt: skip
async def get_version(ctx: ActionContext, request: VersionRef) -> VersionDetail:
    """Get a version with its saved state."""
    return VersionDetail.model_validate(await version_of(ctx, request.program_id, request.version_id))


@action("versions.import", resource="program_version", kind="create", scope="programs:write",
        http=Http("POST", "/programs/{program_id}/versions", status=201), idempotent=True)  # fmt: skip
async def import_version(ctx: ActionContext, request: VersionImport) -> VersionDetail:
    """Store a saved program (DSPy's JSON) as the program's next version."""
    version = await repos.versions.create_version(
        ctx.session,
        tenant_id=ctx.tenant_id,
        actor=ctx.subject,
        program_id=request.program_id,
        state=request.state,
        parent_id=request.parent_id,
        note=request.note,
    )
    return VersionDetail.model_validate(version)


@action("versions.export", resource="program_version", kind="read", scope="programs:read",
        http=Http("GET", "/programs/{program_id}/versions/{version_id}/export"))  # fmt: skip
async def export_version(ctx: ActionContext, request: VersionRef) -> SavedProgram:
    """A version as DSPy's saved-program JSON."""
    return SavedProgram((await version_of(ctx, request.program_id, request.version_id)).state)


@action("versions.diff", resource="program_version", kind="read", scope="programs:read",
        http=Http("GET", "/programs/{program_id}/versions/{version_id}/diff"))  # fmt: skip
async def diff_versions(ctx: ActionContext, request: VersionDiff) -> VersionDiffPublic:
    """What changed from `against` to this version: instructions, demos, fields, LM settings, score."""
    await version_of(ctx, request.program_id, request.version_id)
    await version_of(ctx, request.program_id, request.against)
    diff = await repos.versions.diff_versions(
        ctx.session, tenant_id=ctx.tenant_id, old_id=request.against, new_id=request.version_id
    )
    return VersionDiffPublic.model_validate(diff)


@action("versions.promote", resource="program", kind="action", scope="programs:write",
        http=Http("POST", "/programs/{program_id}/versions/{version_id}/promote"))  # fmt: skip
async def promote_version(ctx: ActionContext, request: VersionRef) -> VersionPublic:
    """Make this version the one that `execute` serves by default."""
    version = await version_of(ctx, request.program_id, request.version_id)
    await repos.versions.promote_version(
        ctx.session,
        tenant_id=ctx.tenant_id,
        actor=ctx.subject,
        program_id=request.program_id,
        version_id=request.version_id,
    )
    return VersionPublic.model_validate(version)
