"""Signatures: named field lists with instructions, kept for reuse; built and parsed without running code.

Types come only from a whitelist (`actions._safe_types`): str, int, float, bool, Any, None, list/dict/
tuple/set/Optional/Union/Literal of those, and `X | Y`. Every signature is then built with the engine's
`Signature.from_json`, so what is stored is a signature the engine accepts.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from dspy_ash.actions._context import ActionContext
from dspy_ash.actions._errors import FieldProblem, InvalidRequestError
from dspy_ash.actions._paging import page_of
from dspy_ash.actions._registry import Http, action
from dspy_ash.actions._safe_types import UnsafeTypeError, parse_fields, resolve_type
from dspy_ash.actions._schemas import Deleted, ListRequest, Page, Public, Request
from dspy_ash.errors import SignatureError
from dspy_ash.signatures import Signature
from dspy_ash.store import repos
from dspy_ash.store.models import SignatureRow

FieldKind = Literal["input", "output"]


class SignatureField(Request):
    name: str = Field(min_length=1, max_length=100, examples=["question"])
    type: str = Field("str", min_length=1, max_length=500, examples=["list[str]"])
    description: str | None = Field(None, max_length=2_000)
    prefix: str | None = Field(None, max_length=200, description="default: the name, title-cased, with ':'")


class SignatureCreate(Request):
    name: str = Field(min_length=1, max_length=200, examples=["qa"])
    instructions: str = Field("", max_length=20_000, description="default: DSPy's generated sentence")
    inputs: list[SignatureField] = Field(min_length=1, max_length=50)
    outputs: list[SignatureField] = Field(min_length=1, max_length=50)


class SignatureParse(Request):
    signature: str = Field(
        min_length=1, max_length=5_000, examples=["question, context: list[str] -> answer: int"]
    )


class FieldPublic(Public):
    name: str
    kind: FieldKind
    type: str
    description: str | None
    prefix: str


class ParsedSignature(Public):
    spec: str = Field(description="the signature as a string, types written out")
    instructions: str
    inputs: list[FieldPublic]
    outputs: list[FieldPublic]


class SignaturePublic(ParsedSignature):
    id: uuid.UUID
    name: str
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, data: Any) -> Any:
        # a row keeps one list of fields, each with its kind; the public form splits it by kind
        if not isinstance(data, SignatureRow):
            return data
        fields = [FieldPublic.model_validate(f) for f in data.fields]
        return {
            "id": data.id,
            "name": data.name,
            "spec": data.spec,
            "instructions": data.instructions,
            "inputs": [f for f in fields if f.kind == "input"],
            "outputs": [f for f in fields if f.kind == "output"],
            "created_at": data.created_at,
            "updated_at": data.updated_at,
        }


class SignatureList(ListRequest):
    name: str | None = Field(None, max_length=200)
    sort: str = Field("name", max_length=64, description="`name` or `created_at`; `-` for descending")


class SignatureRef(Request):
    signature_id: uuid.UUID


def _build(fields: list[tuple[FieldKind, SignatureField]], instructions: str | None) -> ParsedSignature:
    """The engine's signature of these fields (every type checked against the whitelist first)."""
    problems: list[FieldProblem] = []
    items: list[dict[str, Any]] = []
    places: dict[str, str] = {}
    for position, (kind, spec) in enumerate(fields):
        where = f"body.{kind}s.{position - (0 if kind == 'input' else _inputs(fields))}"
        if spec.name in places:
            problems.append(FieldProblem(f"{where}.name", f"the field name {spec.name!r} is used twice"))
        places.setdefault(spec.name, where)
        try:
            resolve_type(spec.type)
        except UnsafeTypeError as exc:
            problems.append(FieldProblem(f"{where}.type", str(exc)))
        items.append({"name": spec.name, "kind": kind, "type": spec.type.strip(),
                      "desc": spec.description, "prefix": spec.prefix})  # fmt: skip
    if problems:
        raise InvalidRequestError(f"{len(problems)} invalid field(s)", problems)
    try:
        built = Signature.from_json({"fields": items, "instructions": instructions or None})
    except SignatureError as exc:
        where = places.get(exc.field or "", "body")
        raise InvalidRequestError(str(exc), [FieldProblem(where, str(exc))]) from None
    return _describe(built.to_json(), [item["type"] for item in items])


def _inputs(fields: list[tuple[FieldKind, SignatureField]]) -> int:
    return sum(1 for kind, _ in fields if kind == "input")


def _describe(saved: dict[str, Any], types: list[str]) -> ParsedSignature:
    """The signature's JSON form as fields; types as the caller wrote them (they re-parse as written)."""
    out = [
        FieldPublic(name=f["name"], kind=f["kind"], type=t, description=f["desc"], prefix=f["prefix"])
        for f, t in zip(saved["fields"], types, strict=True)
    ]
    inputs = [f for f in out if f.kind == "input"]
    outputs = [f for f in out if f.kind == "output"]
    spec = " -> ".join(", ".join(f"{f.name}: {f.type}" for f in side) for side in (inputs, outputs))
    return ParsedSignature(spec=spec, instructions=saved["instructions"], inputs=inputs, outputs=outputs)


@action("signatures.parse", resource="signature", kind="read", scope="signatures:read",
        http=Http("POST", "/signatures/parse"))  # fmt: skip
async def parse_signature(ctx: ActionContext, request: SignatureParse) -> ParsedSignature:
    """Parse a signature string into fields, evaluating nothing (types from a fixed whitelist)."""
    try:
        inputs, outputs = parse_fields(request.signature)
    except UnsafeTypeError as exc:
        raise InvalidRequestError(str(exc), [FieldProblem("body.signature", str(exc))]) from None
    fields: list[tuple[FieldKind, SignatureField]] = [
        *(("input", SignatureField.model_validate({"name": n, "type": t})) for n, t in inputs),
        *(("output", SignatureField.model_validate({"name": n, "type": t})) for n, t in outputs),
    ]
    try:
        return _build(fields, None)
    except InvalidRequestError as exc:  # the caller wrote one string: that is where the fault is
        detail = exc.fields[0].message if exc.fields else str(exc)
        problems = [FieldProblem("body.signature", p.message) for p in exc.fields]
        raise InvalidRequestError(detail, problems) from None


@action("signatures.create", resource="signature", kind="create", scope="signatures:write",
        http=Http("POST", "/signatures", status=201), idempotent=True)  # fmt: skip
async def create_signature(ctx: ActionContext, request: SignatureCreate) -> SignaturePublic:
    """Create a signature from its fields; it is built by the engine first, so only valid ones are kept."""
    fields: list[tuple[FieldKind, SignatureField]] = [
        *(("input", f) for f in request.inputs),
        *(("output", f) for f in request.outputs),
    ]
    built = _build(fields, request.instructions)
    row = await repos.signatures.create_signature(
        ctx.session,
        tenant_id=ctx.tenant_id,
        actor=ctx.subject,
        name=request.name,
        spec=built.spec,
        instructions=built.instructions,
        fields=[f.model_dump() for f in (*built.inputs, *built.outputs)],
    )
    return SignaturePublic.model_validate(row)


@action("signatures.get", resource="signature", kind="read", scope="signatures:read",
        http=Http("GET", "/signatures/{signature_id}"))  # fmt: skip
async def get_signature(ctx: ActionContext, request: SignatureRef) -> SignaturePublic:
    """Get a signature."""
    row = await repos.signatures.get_signature(
        ctx.session, tenant_id=ctx.tenant_id, signature_id=request.signature_id
    )
    return SignaturePublic.model_validate(row)


@action("signatures.list", resource="signature", kind="list", scope="signatures:read",
        http=Http("GET", "/signatures"))  # fmt: skip
async def list_signatures(ctx: ActionContext, request: SignatureList) -> Page[SignaturePublic]:
    """List signatures, by name unless `sort` says otherwise."""
    equal = {"name": request.name}
    return await page_of(
        ctx, SignatureRow, SignaturePublic, request, sorts=("name", "created_at"), equal=equal
    )


@action("signatures.delete", resource="signature", kind="destroy", scope="signatures:write",
        http=Http("DELETE", "/signatures/{signature_id}"))  # fmt: skip
async def delete_signature(ctx: ActionContext, request: SignatureRef) -> Deleted:
    """Delete a signature; modules that named it are unlinked from it (their saved state keeps its fields)."""
    await repos.signatures.delete_signature(
        ctx.session, tenant_id=ctx.tenant_id, actor=ctx.subject, signature_id=request.signature_id
    )
    return Deleted(id=str(request.signature_id))
