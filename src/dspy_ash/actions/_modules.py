"""Modules: a program's predictors as resources of their own (a type, a signature, a config), and
`forward`, which runs one alone with inputs through a provider.

A module belongs to a program (the `module` table requires one) but not to a version: it is the
program's working part, stored in the same table as the predictors a version saves. Types: predict,
chain_of_thought, program_of_thought, react (without tools: the API carries no code), and custom (a
Module class by import path, from the modules the operator allows, as code programs).
"""

from __future__ import annotations

import importlib
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.actions._context import ActionContext, Services
from dspy_ash.actions._lm_resolution import default_provider, provider_lm
from dspy_ash.actions._paging import page_of
from dspy_ash.actions._registry import Http, action
from dspy_ash.actions._schemas import Deleted, ListRequest, Page, Public, Request
from dspy_ash.actions._serving import check_importable, time_limit
from dspy_ash.actions._tracing import Usage, traced_call
from dspy_ash.errors import ConfigurationError
from dspy_ash.lm import LM
from dspy_ash.modules import ChainOfThought, Predict, ProgramOfThought, ReAct
from dspy_ash.signatures import ensure_signature
from dspy_ash.store import repos
from dspy_ash.store._jsonable import to_jsonable
from dspy_ash.store.models import ModuleRow

ModuleType = Literal["predict", "chain_of_thought", "program_of_thought", "react", "custom"]
# Options each type's constructor may take from a request (JSON values only; never an object or code).
_OPTIONS: dict[str, frozenset[str]] = {
    "predict": frozenset({"temperature", "max_tokens", "n"}),
    "chain_of_thought": frozenset({"temperature", "max_tokens", "n"}),
    "program_of_thought": frozenset({"max_iters"}),
    "react": frozenset({"max_iters"}),
}


class ModuleCreate(Request):
    program_id: uuid.UUID = Field(description="the program the module belongs to")
    name: str = Field(min_length=1, max_length=500, examples=["answer"])
    type: ModuleType = "predict"
    signature_id: uuid.UUID | None = Field(None, description="a stored signature; or give `signature`")
    signature: str | None = Field(None, max_length=5_000, examples=["question -> answer"])
    instructions: str | None = Field(None, max_length=20_000)
    source: str | None = Field(None, max_length=500, description="custom modules: `package.module:Class`")
    config: dict[str, Any] = Field(default_factory=dict, max_length=50, description="the type's options")

    @model_validator(mode="after")
    def _consistent(self) -> ModuleCreate:
        if (self.signature_id is None) == (self.signature is None):
            raise ValueError("give either `signature_id` or `signature`")
        if (self.type == "custom") != (self.source is not None):
            raise ValueError("`source` is for custom modules, and they need one")
        unknown = set(self.config) - _OPTIONS.get(self.type, frozenset(self.config))
        if unknown:
            raise ValueError(f"{self.type} takes no option(s) {sorted(unknown)}")
        if self.signature is not None:
            ensure_signature(self.signature)  # parsed, never evaluated: a bad one is refused now
        return self


class ModulePublic(Public):
    id: uuid.UUID
    program_id: uuid.UUID
    name: str
    type: str
    signature_id: uuid.UUID | None
    signature: str | None = None
    instructions: str | None = None
    source: str | None = None
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, data: Any) -> Any:
        if isinstance(data, ModuleRow):
            stored = dict(data.config)
            return {
                "id": data.id, "program_id": data.program_id, "name": data.name, "type": data.type,
                "signature_id": data.signature_id, "signature": stored.get("signature"),
                "instructions": stored.get("instructions"), "source": stored.get("source"),
                "config": stored.get("options", {}), "created_at": data.created_at,
                "updated_at": data.updated_at,
            }  # fmt: skip
        return data


class ModuleList(ListRequest):
    program_id: uuid.UUID | None = None
    type: ModuleType | None = None


class ModuleRef(Request):
    module_id: uuid.UUID


class ForwardRequest(Request):
    module_id: uuid.UUID
    inputs: dict[str, Any] = Field(max_length=100)
    provider_id: uuid.UUID | None = Field(None, description="else the tenant's default provider")
    model: str | None = Field(None, max_length=200, description="else the provider's config.model")


class ForwardPublic(Public):
    outputs: dict[str, Any]
    usage: Usage
    cost: float | None
    latency: float
    trace_id: uuid.UUID


def _custom_class(services: Services, source: str) -> Any:
    check_importable(services, source, location=source)
    module_name, _, qualname = source.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


async def _signature_of(session: AsyncSession, row: ModuleRow) -> Any:
    stored = row.config
    if row.signature_id is not None:
        sig = await repos.signatures.get_signature(
            session, tenant_id=row.tenant_id, signature_id=row.signature_id
        )
        return ensure_signature(sig.spec, stored.get("instructions") or sig.instructions or None)
    return ensure_signature(stored["signature"], stored.get("instructions"))


def _build(services: Services, row: ModuleRow, signature: Any) -> Any:
    options: dict[str, Any] = dict(row.config.get("options", {}))
    match row.type:
        case "predict":
            return Predict(signature, **options)
        case "chain_of_thought":
            return ChainOfThought(signature, **options)
        case "program_of_thought":
            return ProgramOfThought(signature, **options)
        case "react":
            return ReAct(signature, tools=[], **options)
        case _:
            return _custom_class(services, row.config["source"])(signature, **options)


@action("modules.create", resource="module", kind="create", scope="modules:write",
        http=Http("POST", "/programs/{program_id}/modules", status=201))  # fmt: skip
async def create_module(ctx: ActionContext, request: ModuleCreate) -> ModulePublic:
    """Add a module (a predictor) to a program."""
    stored = {"signature": request.signature, "instructions": request.instructions,
              "source": request.source, "options": request.config}  # fmt: skip
    row = await repos.modules.create_module(
        ctx.session,
        tenant_id=ctx.tenant_id,
        actor=ctx.subject,
        program_id=request.program_id,
        name=request.name,
        type=request.type,
        signature_id=request.signature_id,
        config={k: v for k, v in stored.items() if v is not None},
    )
    return ModulePublic.model_validate(row)


@action("modules.list", resource="module", kind="list", scope="modules:read", http=Http("GET", "/modules"))
async def list_modules(ctx: ActionContext, request: ModuleList) -> Page[ModulePublic]:
    """List modules, of one program with `program_id`."""
    own = ModuleRow.version_id.is_(None)
    equal = {"program_id": request.program_id, "type": request.type}
    return await page_of(
        ctx, ModuleRow, ModulePublic, request, own, sorts=("created_at", "name"), equal=equal
    )


@action("modules.get", resource="module", kind="read", scope="modules:read",
        http=Http("GET", "/modules/{module_id}"))  # fmt: skip
async def get_module(ctx: ActionContext, request: ModuleRef) -> ModulePublic:
    """Get a module."""
    row = await repos.modules.get_module(ctx.session, tenant_id=ctx.tenant_id, module_id=request.module_id)
    return ModulePublic.model_validate(row)


@action("modules.delete", resource="module", kind="destroy", scope="modules:write",
        http=Http("DELETE", "/modules/{module_id}"))  # fmt: skip
async def delete_module(ctx: ActionContext, request: ModuleRef) -> Deleted:
    """Delete a module."""
    await repos.modules.delete_module(
        ctx.session, tenant_id=ctx.tenant_id, actor=ctx.subject, module_id=request.module_id
    )
    return Deleted(id=str(request.module_id))


async def _forward_plan(ctx: ActionContext, request: ForwardRequest) -> tuple[Any, LM]:
    async with ctx.transaction() as session:
        row = await repos.modules.get_module(session, tenant_id=ctx.tenant_id, module_id=request.module_id)
        signature = await _signature_of(session, row)
        if request.provider_id is None:
            provider = await default_provider(session, tenant_id=ctx.tenant_id)
        else:
            provider = await repos.providers.get_provider(
                session, tenant_id=ctx.tenant_id, provider_id=request.provider_id
            )
        lm = await provider_lm(ctx.services, session, provider=provider, model=request.model)
    try:
        return _build(ctx.services, row, signature), lm
    except TypeError as exc:  # an option the type's constructor does not take after all
        raise ConfigurationError(f"module {row.name!r}: {exc}") from None


@action("modules.forward", resource="module", kind="action", scope="programs:execute",
        http=Http("POST", "/modules/{module_id}/forward"), audited=False, transactional=False)  # fmt: skip
async def forward_module(ctx: ActionContext, request: ForwardRequest) -> ForwardPublic:
    """Run the module alone with `inputs` through a provider (the tenant's default unless named); traced."""
    module, lm = await _forward_plan(ctx, request)
    async with traced_call(ctx, lm) as call, time_limit(ctx.services):
        prediction = await module.acall(**request.inputs)
    return ForwardPublic(
        outputs=to_jsonable(prediction.toDict()),
        usage=call.usage,
        cost=call.cost,
        latency=call.latency,
        trace_id=call.trace_id,
    )
