"""Programs: code programs (a Module class by import path) and declarative ones (a JSON spec of steps)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator

from dspy_ash.actions._context import ActionContext
from dspy_ash.actions._paging import page_of
from dspy_ash.actions._registry import Http, action
from dspy_ash.actions._schemas import Deleted, ListRequest, Page, Public, Request
from dspy_ash.actions._versions import VersionPublic
from dspy_ash.programs import validate_spec
from dspy_ash.store import repos
from dspy_ash.store.models import Program

Include = Literal["versions"]


class ProgramCreate(Request):
    # the document says what the validator below enforces: exactly one of `source` and `spec`
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["source"],
                    "properties": {"source": {"type": "string"}, "spec": {"type": "null"}},
                },
                {
                    "required": ["spec"],
                    "properties": {"spec": {"type": "object"}, "source": {"type": "null"}},
                },
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200, examples=["qa"])
    source: str | None = Field(
        None, max_length=500, description="a code program: `package.module:Class`", examples=["myapp.qa:QA"]
    )
    spec: dict[str, Any] | None = Field(None, description="a declarative program's steps")
    description: str = Field("", max_length=10_000)

    @model_validator(mode="after")
    def _one_kind(self) -> ProgramCreate:
        if (self.source is None) == (self.spec is None):
            raise ValueError("give either `source` (a code program) or `spec` (a declarative one)")
        return self


class ProgramPublic(Public):
    id: uuid.UUID
    name: str
    kind: Literal["code", "declarative"]
    source: str | None
    spec: dict[str, Any] | None
    description: str
    serving_version_id: uuid.UUID | None = Field(description="the promoted version; null serves the latest")
    created_at: datetime
    updated_at: datetime
    versions: list[VersionPublic] | None = Field(None, description="with `include=versions`")


class ProgramList(ListRequest):
    kind: Literal["code", "declarative"] | None = None
    name: str | None = Field(None, max_length=200)
    include: list[Include] = Field(default_factory=list)


class ProgramGet(Request):
    program_id: uuid.UUID
    include: list[Include] = Field(default_factory=list)


class ProgramUpdate(Request):
    program_id: uuid.UUID
    description: str | None = Field(None, max_length=10_000)
    spec: dict[str, Any] | None = None


class ProgramRef(Request):
    program_id: uuid.UUID


SORTS = ("created_at", "updated_at", "name")


async def _include(ctx: ActionContext, programs: list[ProgramPublic], include: list[Include]) -> None:
    """Fill in what `include` names for a page of programs, with one query per relation."""
    if "versions" in include and programs:
        grouped: dict[uuid.UUID, list[VersionPublic]] = {p.id: [] for p in programs}
        for version in await repos.versions.list_versions_of(
            ctx.session, tenant_id=ctx.tenant_id, program_ids=list(grouped)
        ):
            grouped[version.program_id].append(VersionPublic.model_validate(version))
        for program in programs:
            program.versions = grouped[program.id]


@action("programs.create", resource="program", kind="create", scope="programs:write",
        http=Http("POST", "/programs", status=201), idempotent=True)  # fmt: skip
async def create_program(ctx: ActionContext, request: ProgramCreate) -> ProgramPublic:
    """Create a program."""
    spec = None if request.spec is None else validate_spec(request.spec).model_dump(mode="json")
    program = await repos.programs.create_program(
        ctx.session,
        tenant_id=ctx.tenant_id,
        actor=ctx.subject,
        name=request.name,
        source=request.source,
        spec=spec,
        description=request.description,
    )
    return ProgramPublic.model_validate(program)


@action("programs.list", resource="program", kind="list", scope="programs:read",
        http=Http("GET", "/programs"))  # fmt: skip
async def list_programs(ctx: ActionContext, request: ProgramList) -> Page[ProgramPublic]:
    """List programs."""
    equal = {"kind": request.kind, "name": request.name}
    page = await page_of(ctx, Program, ProgramPublic, request, sorts=SORTS, equal=equal)
    await _include(ctx, page.items, request.include)
    return page


@action("programs.get", resource="program", kind="read", scope="programs:read",
        http=Http("GET", "/programs/{program_id}"))  # fmt: skip
async def get_program(ctx: ActionContext, request: ProgramGet) -> ProgramPublic:
    """Get a program."""
    row = await repos.programs.get_program(
        ctx.session, tenant_id=ctx.tenant_id, program_id=request.program_id
    )
    program = ProgramPublic.model_validate(row)
    await _include(ctx, [program], request.include)
    return program


@action("programs.update", resource="program", kind="update", scope="programs:write",
        http=Http("PATCH", "/programs/{program_id}"))  # fmt: skip
async def update_program(ctx: ActionContext, request: ProgramUpdate) -> ProgramPublic:
    """Change a program's description, or a declarative program's spec."""
    spec = None if request.spec is None else validate_spec(request.spec).model_dump(mode="json")
    program = await repos.programs.update_program(
        ctx.session,
        tenant_id=ctx.tenant_id,
        actor=ctx.subject,
        program_id=request.program_id,
        description=request.description,
        spec=spec,
    )
    return ProgramPublic.model_validate(program)


@action("programs.delete", resource="program", kind="destroy", scope="programs:write",
        http=Http("DELETE", "/programs/{program_id}"))  # fmt: skip
async def delete_program(ctx: ActionContext, request: ProgramRef) -> Deleted:
    """Delete a program with its versions and runs."""
    await repos.programs.delete_program(
        ctx.session, tenant_id=ctx.tenant_id, actor=ctx.subject, program_id=request.program_id
    )
    return Deleted(id=str(request.program_id))
