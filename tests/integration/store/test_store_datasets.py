"""Datasets: JSONL/CSV/JSON round trips, splits, content hashes, the shipped HotPotQA and GSM8K files."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from dspy_ash.store import Database, repos
from dspy_ash.store._datasets_io import write_records

RECORDS = [
    {"question": "Capital of France?", "answer": "Paris", "tags": ["geo"], "split": "train"},
    {"question": "2 + 2?", "answer": "4", "tags": [], "split": "dev"},
    {"question": 'Ünïcode, "quotes", commas?', "answer": "yes, really", "tags": ["x", "y"], "split": "test"},
]


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
async def test_file_round_trip(db: Database, tenant: uuid.UUID, tmp_path: Path, fmt: str) -> None:
    source = tmp_path / f"in.{fmt}"
    records = RECORDS
    if fmt == "csv":  # CSV has no types: what comes back is text
        records = [
            {k: v if isinstance(v, str) else str(v).replace("'", '"') for k, v in r.items()} for r in RECORDS
        ]
    write_records(records, source)
    async with db.transaction() as s:
        dataset = await repos.datasets.import_file(
            s, tenant_id=tenant, actor="t", name=f"d-{fmt}", path=source, input_keys=["question"]
        )
    assert dataset.size == 3 and dataset.input_keys == ["question"] and len(dataset.content_hash) == 64
    out = tmp_path / f"out.{fmt}"
    async with db.transaction() as s:
        assert await repos.datasets.export_file(s, tenant_id=tenant, dataset_id=dataset.id, path=out) == 3
        train = await repos.datasets.list_examples(s, tenant_id=tenant, dataset_id=dataset.id, split="train")
    assert [e.data["question"] for e in train] == ["Capital of France?"]
    assert out.read_text(encoding="utf-8") == source.read_text(encoding="utf-8")


async def test_hashes_name_exactly_the_examples(db: Database, tenant: uuid.UUID) -> None:
    plain = [{k: v for k, v in r.items() if k != "split"} for r in RECORDS]
    async with db.transaction() as s:
        a = await repos.datasets.create_dataset(
            s, tenant_id=tenant, actor="t", name="a", records=plain, input_keys=["question"]
        )
        b = await repos.datasets.create_dataset(
            s, tenant_id=tenant, actor="t", name="b", records=plain, input_keys=["question"]
        )
        c = await repos.datasets.create_dataset(
            s, tenant_id=tenant, actor="t", name="c", records=plain[::-1], input_keys=["question"]
        )
        d = await repos.datasets.create_dataset(
            s, tenant_id=tenant, actor="t", name="d", records=plain, input_keys=["question", "tags"]
        )
    assert a.content_hash == b.content_hash
    assert len({a.content_hash, c.content_hash, d.content_hash}) == 3


async def test_assign_splits_is_deterministic_and_hashes_each_split(db: Database, tenant: uuid.UUID) -> None:
    records = [{"question": f"q{i}", "answer": str(i)} for i in range(50)]
    async with db.transaction() as s:
        ds = await repos.datasets.create_dataset(
            s, tenant_id=tenant, actor="t", name="s", records=records, input_keys=["question"]
        )
        counts = await repos.datasets.assign_splits(
            s, tenant_id=tenant, actor="t", dataset_id=ds.id, train=0.6, dev=0.2, test=0.2, seed=7
        )
        dev = [
            e.position
            for e in await repos.datasets.list_examples(s, tenant_id=tenant, dataset_id=ds.id, split="dev")
        ]
        dev_hash = await repos.datasets.examples_hash(s, tenant_id=tenant, dataset_id=ds.id, split="dev")
        train_hash = await repos.datasets.examples_hash(s, tenant_id=tenant, dataset_id=ds.id, split="train")
        again = await repos.datasets.assign_splits(
            s, tenant_id=tenant, actor="t", dataset_id=ds.id, train=0.6, dev=0.2, test=0.2, seed=7
        )
        dev_again = [
            e.position
            for e in await repos.datasets.list_examples(s, tenant_id=tenant, dataset_id=ds.id, split="dev")
        ]
    assert counts == again == {"train": 30, "dev": 10, "test": 10}
    assert dev == dev_again and dev != list(range(30, 40))  # shuffled, and the same shuffle twice
    assert dev_hash != train_hash


async def test_invalid_split_is_rejected(db: Database, tenant: uuid.UUID) -> None:
    async with db.transaction() as s:
        with pytest.raises(ValueError, match="split"):
            await repos.datasets.create_dataset(
                s, tenant_id=tenant, actor="t", name="x", records=[{"q": "a", "split": "validation"}]
            )


async def test_builtin_hotpotqa_and_gsm8k_load_in_one_call(db: Database, tenant: uuid.UUID) -> None:
    async with db.transaction() as s:
        hotpot = await repos.datasets.import_builtin(s, tenant_id=tenant, actor="t", dataset="hotpotqa")
        gsm8k = await repos.datasets.import_builtin(s, tenant_id=tenant, actor="t", dataset="gsm8k")
        first_hotpot = (await repos.datasets.list_examples(s, tenant_id=tenant, dataset_id=hotpot.id))[0]
        first_gsm = (await repos.datasets.list_examples(s, tenant_id=tenant, dataset_id=gsm8k.id))[0]
    assert (hotpot.size, gsm8k.size) == (53, 1319)
    assert hotpot.input_keys == gsm8k.input_keys == ["question"]
    assert first_hotpot.data["question"] == "Were Scott Derrickson and Ed Wood of the same nationality?"
    assert first_hotpot.data["answer"] == "yes"
    assert first_hotpot.data["gold_titles"] == ["Ed Wood", "Scott Derrickson"]
    assert len(first_hotpot.data["context"]) == 10
    assert first_gsm.data["answer"] == "18"
    assert "16 - 3 - 4" in first_gsm.data["reasoning"] and "####" not in first_gsm.data["reasoning"]
