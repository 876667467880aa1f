"""Within one tenant, a write naming two related ids must not let them disagree: a run of program A that
names a version of program B, a result version from another program, a version whose parent (or run) is
another program's, an evaluation result whose example is from another dataset than the run's. Each is
refused with WrongParentError naming both owners, and nothing changes."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from store_helpers import program_state

from dspy_ash.store import Database, StoreError, WrongParentError, repos
from dspy_ash.store.models import Base


@dataclass
class Two:
    """Two of everything in one tenant: programs A and B (each with a version and an optimizer run),
    datasets A and B (each with one example), and an evaluation run of program A on dataset A."""

    program_a: uuid.UUID
    program_b: uuid.UUID
    version_a: uuid.UUID
    version_b: uuid.UUID
    optimizer_run_a: uuid.UUID
    optimizer_run_b: uuid.UUID
    dataset_a: uuid.UUID
    dataset_b: uuid.UUID
    example_a: uuid.UUID
    example_b: uuid.UUID
    evaluation_run_a: uuid.UUID


async def _two(db: Database, tenant: uuid.UUID) -> Two:
    async with db.transaction() as s:
        ids: dict[str, uuid.UUID] = {}
        for side in ("a", "b"):
            program = await repos.programs.create_program(
                s, tenant_id=tenant, actor="t", name=f"p-{side}", source="a.b:C"
            )
            version = await repos.versions.create_version(
                s, tenant_id=tenant, actor="t", program_id=program.id, state=program_state(side)
            )
            run = await repos.runs.create_optimizer_run(
                s, tenant_id=tenant, actor="t", program_id=program.id, optimizer="X"
            )
            dataset = await repos.datasets.create_dataset(
                s, tenant_id=tenant, actor="t", name=f"d-{side}", records=[{"q": side, "a": side}]
            )
            (example,) = await repos.datasets.list_examples(s, tenant_id=tenant, dataset_id=dataset.id)
            ids |= {f"program_{side}": program.id, f"version_{side}": version.id,
                    f"optimizer_run_{side}": run.id, f"dataset_{side}": dataset.id,
                    f"example_{side}": example.id}  # fmt: skip
        evaluation = await repos.runs.create_evaluation_run(
            s, tenant_id=tenant, actor="t", program_id=ids["program_a"], dataset_id=ids["dataset_a"]
        )
        await s.flush()
        return Two(**ids, evaluation_run_a=evaluation.id)


Call = Callable[[AsyncSession, uuid.UUID, Two, str], Awaitable[Any]]

# (case, the call given the id of side "a" (agrees) or "b" (disagrees), the row named, its owner's key)
CASES: list[tuple[str, Call, str, str]] = [
    (
        "evaluation run: version of another program",
        lambda s, t, w, x: repos.runs.create_evaluation_run(
            s, tenant_id=t, actor="t", program_id=w.program_a, version_id=getattr(w, f"version_{x}")
        ),
        "version",
        "program",
    ),
    (
        "optimizer run: base version of another program",
        lambda s, t, w, x: repos.runs.create_optimizer_run(
            s,
            tenant_id=t,
            actor="t",
            program_id=w.program_a,
            optimizer="X",
            base_version_id=getattr(w, f"version_{x}"),
        ),
        "version",
        "program",
    ),
    (
        "run result: version of another program",
        lambda s, t, w, x: repos.runs.transition(
            s,
            tenant_id=t,
            actor="t",
            kind="optimizer",
            run_id=w.optimizer_run_a,
            to="running",
            result_version_id=getattr(w, f"version_{x}"),
        ),
        "version",
        "program",
    ),
    (
        "version: parent of another program",
        lambda s, t, w, x: repos.versions.create_version(
            s,
            tenant_id=t,
            actor="t",
            program_id=w.program_a,
            state=program_state("child"),
            parent_id=getattr(w, f"version_{x}"),
        ),
        "version",
        "program",
    ),
    (
        "version: made by another program's optimizer run",
        lambda s, t, w, x: repos.versions.create_version(
            s,
            tenant_id=t,
            actor="t",
            program_id=w.program_a,
            state=program_state("child"),
            optimizer_run_id=getattr(w, f"optimizer_run_{x}"),
        ),
        "optimizer_run",
        "program",
    ),
    (
        "evaluation result: example of another dataset",
        lambda s, t, w, x: repos.evaluations.add_results(
            s,
            tenant_id=t,
            actor="t",
            run_id=w.evaluation_run_a,
            # a good result first: the bad one refuses the whole batch, not just itself
            results=[
                {"position": 0, "score": 1.0, "example_id": w.example_a},
                {"position": 1, "score": 0.0, "example_id": getattr(w, f"example_{x}")},
            ],
        ),
        "example",
        "dataset",
    ),
]


class _Rollback(Exception):
    pass


async def _fingerprint(s: AsyncSession, tenant: uuid.UUID) -> dict[str, list[tuple[Any, ...]]]:
    """Every column of every row of the tenant, table by table."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in Base.metadata.sorted_tables:
        if "tenant_id" not in table.c:  # user accounts are no tenant's (and no write here touches one)
            continue
        rows = (await s.execute(select(table).where(table.c.tenant_id == tenant))).all()
        out[table.name] = sorted((tuple(r) for r in rows), key=str)
    return out


@pytest.mark.parametrize(("case", "call", "row", "owner"), CASES, ids=[c[0] for c in CASES])
async def test_a_write_refuses_a_row_of_the_wrong_parent(
    db: Database, tenant: uuid.UUID, case: str, call: Call, row: str, owner: str
) -> None:
    w = await _two(db, tenant)
    # the same call with ids that agree goes through (so the refusal below is the disagreement's doing)
    with pytest.raises(_Rollback):
        async with db.transaction() as s:
            await call(s, tenant, w, "a")
            raise _Rollback
    async with db.transaction() as s:
        before = await _fingerprint(s, tenant)
    with pytest.raises(WrongParentError) as refused:
        async with db.transaction() as s:
            await call(s, tenant, w, "b")
    error = refused.value
    assert isinstance(error, StoreError) and isinstance(error, ValueError)
    named, actual = getattr(w, f"{row}_b"), getattr(w, f"{owner}_b")
    expected = w.dataset_a if owner == "dataset" else w.program_a
    assert (error.ident, error.parent, error.actual, error.expected) == (named, owner, actual, expected)
    assert f"{named} belongs to {owner} {actual}, not {expected}" in str(error)
    async with db.transaction() as s:
        assert await _fingerprint(s, tenant) == before, f"{case}: rows changed"
