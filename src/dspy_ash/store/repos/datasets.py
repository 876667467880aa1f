"""Datasets: examples with input keys, train/dev/test splits and content hashes.

`content_hash` of a dataset covers its input keys and every example's data in order; a run stores
the hash of exactly the examples it used (`examples_hash(..., split=...)`).
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._datasets_io import (
    SPLIT_KEY,
    SPLITS,
    Format,
    load_builtin,
    load_file,
    render_records,
    write_records,
)
from dspy_ash.store._errors import ConflictError
from dspy_ash.store._hashing import combine, content_hash
from dspy_ash.store._types import utcnow
from dspy_ash.store.models import Dataset, ExampleRow
from dspy_ash.store.repos import audit
from dspy_ash.store.repos._base import get_owned, list_owned, snapshot

_BATCH = 1000


async def create_dataset(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    name: str,
    records: list[dict[str, Any]],
    input_keys: list[str] | None = None,
    description: str = "",
    source: str | None = None,
) -> Dataset:
    """Store records as examples. A record's `split` key (train/dev/test) becomes its split."""
    rows: list[dict[str, Any]] = []
    now = utcnow()
    for position, record in enumerate(records):
        data = {k: v for k, v in record.items() if k != SPLIT_KEY}
        split = record.get(SPLIT_KEY)
        if split is not None and split not in SPLITS:
            raise ValueError(f"record {position}: split must be one of {SPLITS}, not {split!r}")
        rows.append(
            {
                "id": uuid.uuid4(),
                "tenant_id": tenant_id,
                "position": position,
                "split": split,
                "data": data,
                "content_hash": content_hash(data),
                "created_at": now,
                "updated_at": now,
            }
        )
    keys = list(input_keys or [])
    dataset = Dataset(
        tenant_id=tenant_id,
        name=name,
        description=description,
        input_keys=keys,
        size=len(rows),
        content_hash=_dataset_hash(keys, [r["content_hash"] for r in rows]),
        source=source,
    )
    session.add(dataset)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError(f"a dataset named {name!r} exists", resource="dataset") from exc
    for start in range(0, len(rows), _BATCH):
        chunk = [{**r, "dataset_id": dataset.id} for r in rows[start : start + _BATCH]]
        await session.execute(insert(ExampleRow), chunk)
    await audit.record(session, tenant_id=tenant_id, actor=actor, action="create", row=dataset)
    return dataset


async def import_file(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    name: str,
    path: str | Path,
    fmt: Format | None = None,
    input_keys: list[str] | None = None,
) -> Dataset:
    """Import a JSONL/CSV/JSON file in one call; HotPotQA- and GSM8K-shaped files are recognised."""
    records, detected_keys = load_file(path, fmt=fmt)
    return await create_dataset(
        session,
        tenant_id=tenant_id,
        actor=actor,
        name=name,
        records=records,
        input_keys=input_keys or detected_keys,
        source=Path(path).name,
    )


async def import_builtin(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: str, dataset: str, name: str | None = None
) -> Dataset:
    """Import a data set shipped with dspy-ash ("hotpotqa", "gsm8k", "gsm8k_train")."""
    records, keys = load_builtin(dataset)
    return await create_dataset(
        session,
        tenant_id=tenant_id,
        actor=actor,
        name=name or dataset,
        records=records,
        input_keys=keys,
        source=f"builtin:{dataset}",
    )


async def get_dataset(session: AsyncSession, *, tenant_id: uuid.UUID, dataset_id: uuid.UUID) -> Dataset:
    return await get_owned(session, Dataset, tenant_id=tenant_id, id=dataset_id)


async def list_datasets(session: AsyncSession, *, tenant_id: uuid.UUID) -> list[Dataset]:
    return await list_owned(session, Dataset, tenant_id=tenant_id, order_by=Dataset.name)


async def list_examples(
    session: AsyncSession, *, tenant_id: uuid.UUID, dataset_id: uuid.UUID, split: str | None = None
) -> list[ExampleRow]:
    where = [ExampleRow.dataset_id == dataset_id] + ([ExampleRow.split == split] if split is not None else [])
    return await list_owned(session, ExampleRow, *where, tenant_id=tenant_id, order_by=ExampleRow.position)


async def examples_hash(
    session: AsyncSession, *, tenant_id: uuid.UUID, dataset_id: uuid.UUID, split: str | None = None
) -> str:
    """The hash of exactly these examples (a split, or all), as a run records it."""
    dataset = await get_owned(session, Dataset, tenant_id=tenant_id, id=dataset_id)
    if split is None:
        return dataset.content_hash
    examples = await list_examples(session, tenant_id=tenant_id, dataset_id=dataset_id, split=split)
    return _dataset_hash(dataset.input_keys, [e.content_hash for e in examples])


async def assign_splits(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    dataset_id: uuid.UUID,
    train: float,
    dev: float,
    test: float = 0.0,
    seed: int = 0,
) -> dict[str, int]:
    """Shuffle with `seed` and cut into train/dev/test by the given fractions (deterministic)."""
    total = train + dev + test
    if total <= 0 or min(train, dev, test) < 0:
        raise ValueError("split fractions must be non-negative and not all zero")
    dataset = await get_owned(session, Dataset, tenant_id=tenant_id, id=dataset_id)
    before = snapshot(dataset)
    positions = list(range(dataset.size))
    random.Random(seed).shuffle(positions)
    n_train = round(dataset.size * train / total)
    n_dev = round(dataset.size * dev / total)
    cuts = {
        "train": positions[:n_train],
        "dev": positions[n_train : n_train + n_dev],
        "test": positions[n_train + n_dev :],
    }
    for split, chosen in cuts.items():
        for start in range(0, len(chosen), _BATCH):
            await session.execute(
                update(ExampleRow)
                .where(
                    ExampleRow.dataset_id == dataset_id,
                    ExampleRow.tenant_id == tenant_id,
                    ExampleRow.position.in_(chosen[start : start + _BATCH]),
                )
                .values(split=split)
            )
    dataset.updated_at = utcnow()  # splits are part of the dataset's history
    await audit.record(session, tenant_id=tenant_id, actor=actor, action="split", row=dataset, before=before)
    return {split: len(chosen) for split, chosen in cuts.items()}


async def export_records(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    dataset_id: uuid.UUID,
    split: str | None = None,
    with_split: bool = True,
) -> list[dict[str, Any]]:
    examples = await list_examples(session, tenant_id=tenant_id, dataset_id=dataset_id, split=split)
    return [{**e.data, SPLIT_KEY: e.split} if with_split and e.split else dict(e.data) for e in examples]


async def export_file(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    dataset_id: uuid.UUID,
    path: str | Path,
    fmt: Format | None = None,
    split: str | None = None,
) -> int:
    records = await export_records(session, tenant_id=tenant_id, dataset_id=dataset_id, split=split)
    write_records(records, path, fmt=fmt)
    return len(records)


async def export_text(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    dataset_id: uuid.UUID,
    fmt: Format,
    split: str | None = None,
) -> tuple[str, int]:
    """The dataset (or one split) as the text of a file in `fmt`, and how many records it holds."""
    await get_owned(session, Dataset, tenant_id=tenant_id, id=dataset_id)
    records = await export_records(session, tenant_id=tenant_id, dataset_id=dataset_id, split=split)
    return render_records(records, fmt), len(records)


async def set_splits(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    dataset_id: uuid.UUID,
    splits: dict[str, list[int]],
) -> dict[str, int]:
    """Put exactly the listed positions in each split (train/dev/test); the others are in none. A position
    listed twice or not in the dataset is a ValueError, and nothing changes."""
    dataset = await get_owned(session, Dataset, tenant_id=tenant_id, id=dataset_id)
    listed = [p for positions in splits.values() for p in positions]
    if set(splits) - set(SPLITS):
        raise ValueError(f"splits are {SPLITS}, not {sorted(set(splits) - set(SPLITS))}")
    if len(set(listed)) != len(listed):
        raise ValueError("a position is listed in more than one split (or twice)")
    outside = [p for p in listed if not 0 <= p < dataset.size]
    if outside:
        raise ValueError(f"position {outside[0]} is not in the dataset (0 to {dataset.size - 1})")
    before = snapshot(dataset)
    mine = (ExampleRow.dataset_id == dataset_id, ExampleRow.tenant_id == tenant_id)
    await session.execute(update(ExampleRow).where(*mine).values(split=None))
    for split, chosen in splits.items():
        for start in range(0, len(chosen), _BATCH):
            batch = chosen[start : start + _BATCH]
            await session.execute(
                update(ExampleRow).where(*mine, ExampleRow.position.in_(batch)).values(split=split)
            )
    dataset.updated_at = utcnow()
    await audit.record(session, tenant_id=tenant_id, actor=actor, action="split", row=dataset, before=before)
    return {split: len(splits.get(split, [])) for split in SPLITS}


async def delete_dataset(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: str, dataset_id: uuid.UUID
) -> None:
    """Its examples go with it; runs and versions that named it are unlinked (each with an "update" event)."""
    dataset = await get_owned(session, Dataset, tenant_id=tenant_id, id=dataset_id)
    await audit.delete(session, tenant_id=tenant_id, actor=actor, row=dataset)


def _dataset_hash(input_keys: list[str], example_hashes: list[str]) -> str:
    return combine([content_hash(sorted(input_keys)), *example_hashes])
