"""Datasets and their examples: upload (JSONL, CSV, JSON), splits, export, and paged examples.

An upload is one JSON body (`format`, `content`) checked whole before anything is written: a malformed
line or row is a 422 naming it, and no dataset is created.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator
from sqlalchemy import func, select

from dspy_ash.actions._context import ActionContext
from dspy_ash.actions._dataset_files import MAX_KEY_LENGTH, Format, RecordError, read_upload
from dspy_ash.actions._errors import FieldProblem, InvalidRequestError
from dspy_ash.actions._paging import page_of
from dspy_ash.actions._registry import Http, action
from dspy_ash.actions._schemas import Deleted, ListRequest, Page, Public, Request
from dspy_ash.store import repos
from dspy_ash.store.models import Dataset, ExampleRow

Split = Literal["train", "dev", "test"]
MAX_CONTENT = 20_000_000  # characters; the service's body limit (max_body_bytes) is usually the tighter bound


class DatasetUpload(Request):
    name: str = Field(min_length=1, max_length=200, examples=["qa-dev"])
    format: Format = Field(examples=["jsonl"])
    content: str = Field(max_length=MAX_CONTENT, description="the file's text", examples=['{"q": "1+1?"}\n'])
    input_keys: list[str] | None = Field(
        None,
        max_length=100,
        description="the keys that are inputs (the rest are labels); every record has them",
    )
    description: str = Field("", max_length=10_000)


class DatasetPublic(Public):
    id: uuid.UUID
    name: str
    description: str
    input_keys: list[str]
    size: int
    content_hash: str
    source: str | None
    created_at: datetime
    updated_at: datetime


class DatasetList(ListRequest):
    name: str | None = Field(None, max_length=200)


class DatasetRef(Request):
    dataset_id: uuid.UUID


class SplitRequest(Request):
    dataset_id: uuid.UUID
    train: float | None = Field(None, ge=0, le=1, description="fraction; with `dev`, `test` and `seed`")
    dev: float | None = Field(None, ge=0, le=1)
    test: float | None = Field(None, ge=0, le=1)
    seed: int = Field(0, ge=0, le=2**63 - 1, description="the shuffle's seed: the same seed, the same splits")
    explicit: dict[Split, list[int]] | None = Field(
        None, description="instead of fractions: the positions in each split (the others in none)"
    )

    @model_validator(mode="after")
    def _one_way(self) -> SplitRequest:
        fractions = (self.train, self.dev, self.test)
        if (self.explicit is None) == all(f is None for f in fractions):
            raise ValueError("give either fractions (train, dev, test) or `explicit` positions")
        if self.explicit is not None and sum(len(v) for v in self.explicit.values()) > 100_000:
            raise ValueError("at most 100000 positions")
        return self


class SplitCounts(Public):
    train: int
    dev: int
    test: int


class SplitSizes(SplitCounts):
    unassigned: int = Field(description="examples in no split")


class DatasetExport(Request):
    dataset_id: uuid.UUID
    format: Format = "jsonl"
    split: Split | None = None


class ExportedDataset(Public):
    format: Format
    count: int
    content: str = Field(description="the file's text; each record has its `split` key when it has one")


class ExampleList(ListRequest):
    dataset_id: uuid.UUID
    split: Split | None = None
    sort: str = Field("position", max_length=64, description="`position` or `-position`")


class ExamplePublic(Public):
    id: uuid.UUID
    dataset_id: uuid.UUID
    position: int
    split: Split | None
    data: dict[str, Any]
    content_hash: str


def _input_keys(records: list[dict[str, Any]], keys: list[str] | None) -> list[str]:
    for key in keys or []:
        if not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidRequestError(
                "bad input key", [FieldProblem("body.input_keys", f"{key!r} is not a key")]
            )
        missing = next((i for i, record in enumerate(records, start=1) if key not in record), None)
        if missing is not None:
            message = f"input key {key!r} is missing from record {missing}"
            raise InvalidRequestError(message, [FieldProblem("body.input_keys", message)])
    return list(keys or [])


@action("datasets.upload", resource="dataset", kind="create", scope="datasets:write",
        http=Http("POST", "/datasets", status=201), idempotent=True)  # fmt: skip
async def upload_dataset(ctx: ActionContext, request: DatasetUpload) -> DatasetPublic:
    """Create a dataset from a JSONL, CSV or JSON file's text; a record's `split` key is its split."""
    try:
        records = read_upload(request.content, request.format)
    except RecordError as exc:
        raise InvalidRequestError(str(exc), [FieldProblem("body.content", str(exc))]) from None
    keys = _input_keys(records, request.input_keys)
    dataset = await repos.datasets.create_dataset(
        ctx.session,
        tenant_id=ctx.tenant_id,
        actor=ctx.subject,
        name=request.name,
        records=records,
        input_keys=keys,
        description=request.description,
        source=f"upload:{request.format}",
    )
    return DatasetPublic.model_validate(dataset)


@action("datasets.list", resource="dataset", kind="list", scope="datasets:read",
        http=Http("GET", "/datasets"))  # fmt: skip
async def list_datasets(ctx: ActionContext, request: DatasetList) -> Page[DatasetPublic]:
    """List datasets."""
    sorts = ("created_at", "name", "size")
    return await page_of(ctx, Dataset, DatasetPublic, request, sorts=sorts, equal={"name": request.name})


@action("datasets.get", resource="dataset", kind="read", scope="datasets:read",
        http=Http("GET", "/datasets/{dataset_id}"))  # fmt: skip
async def get_dataset(ctx: ActionContext, request: DatasetRef) -> DatasetPublic:
    """Get a dataset (its examples: `GET /datasets/{id}/examples`)."""
    row = await repos.datasets.get_dataset(
        ctx.session, tenant_id=ctx.tenant_id, dataset_id=request.dataset_id
    )
    return DatasetPublic.model_validate(row)


@action("datasets.delete", resource="dataset", kind="destroy", scope="datasets:write",
        http=Http("DELETE", "/datasets/{dataset_id}"))  # fmt: skip
async def delete_dataset(ctx: ActionContext, request: DatasetRef) -> Deleted:
    """Delete a dataset and its examples; runs and versions that used it keep its hash, unlinked."""
    await repos.datasets.delete_dataset(
        ctx.session, tenant_id=ctx.tenant_id, actor=ctx.subject, dataset_id=request.dataset_id
    )
    return Deleted(id=str(request.dataset_id))


@action("datasets.split", resource="dataset", kind="update", scope="datasets:write",
        http=Http("POST", "/datasets/{dataset_id}/splits"))  # fmt: skip
async def split_dataset(ctx: ActionContext, request: SplitRequest) -> SplitCounts:
    """Assign train/dev/test: by fractions after a seeded shuffle (deterministic), or position by position."""
    common: dict[str, Any] = {
        "tenant_id": ctx.tenant_id,
        "actor": ctx.subject,
        "dataset_id": request.dataset_id,
    }
    try:
        if request.explicit is not None:
            splits = {str(split): positions for split, positions in request.explicit.items()}
            counts = await repos.datasets.set_splits(ctx.session, **common, splits=splits)
        else:
            train, dev, test = (request.train or 0.0, request.dev or 0.0, request.test or 0.0)
            counts = await repos.datasets.assign_splits(
                ctx.session, **common, train=train, dev=dev, test=test, seed=request.seed
            )
    except ValueError as exc:
        if type(exc) is not ValueError:
            raise
        raise InvalidRequestError(str(exc), [FieldProblem("body", str(exc))]) from None
    return SplitCounts.model_validate(counts)


@action("datasets.splits", resource="dataset", kind="read", scope="datasets:read",
        http=Http("GET", "/datasets/{dataset_id}/splits"))  # fmt: skip
async def dataset_splits(ctx: ActionContext, request: DatasetRef) -> SplitSizes:
    """How many examples each split holds, and how many are in none (one grouped count)."""
    await repos.datasets.get_dataset(ctx.session, tenant_id=ctx.tenant_id, dataset_id=request.dataset_id)
    stmt = (
        select(ExampleRow.split, func.count())
        .where(ExampleRow.tenant_id == ctx.tenant_id, ExampleRow.dataset_id == request.dataset_id)
        .group_by(ExampleRow.split)
    )
    counts = {split: int(n) for split, n in (await ctx.session.execute(stmt)).all()}
    return SplitSizes(train=counts.get("train", 0), dev=counts.get("dev", 0), test=counts.get("test", 0),
                      unassigned=counts.get(None, 0))  # fmt: skip


@action("datasets.export", resource="dataset", kind="read", scope="datasets:read",
        http=Http("GET", "/datasets/{dataset_id}/export"))  # fmt: skip
async def export_dataset(ctx: ActionContext, request: DatasetExport) -> ExportedDataset:
    """A dataset (or one split) as the text of a JSONL, CSV or JSON file, which uploads back as it was."""
    content, count = await repos.datasets.export_text(
        ctx.session,
        tenant_id=ctx.tenant_id,
        dataset_id=request.dataset_id,
        fmt=request.format,
        split=request.split,
    )
    return ExportedDataset(format=request.format, count=count, content=content)


@action("examples.list", resource="example", kind="list", scope="datasets:read",
        http=Http("GET", "/datasets/{dataset_id}/examples"))  # fmt: skip
async def list_examples(ctx: ActionContext, request: ExampleList) -> Page[ExamplePublic]:
    """A dataset's examples in order, optionally of one split."""
    await repos.datasets.get_dataset(ctx.session, tenant_id=ctx.tenant_id, dataset_id=request.dataset_id)
    mine = ExampleRow.dataset_id == request.dataset_id
    return await page_of(
        ctx, ExampleRow, ExamplePublic, request, mine, sorts=("position",), equal={"split": request.split}
    )
