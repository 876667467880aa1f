"""Per-example results of an evaluation run."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._jsonable import to_jsonable
from dspy_ash.store._types import utcnow
from dspy_ash.store.models import EvaluationResultRow, EvaluationRun, ExampleRow, Trace
from dspy_ash.store.repos import audit
from dspy_ash.store.repos._base import check_owned, get_owned, list_owned


async def add_results(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    run_id: uuid.UUID,
    results: list[dict[str, Any]],
) -> int:
    """Each result: `position`, and any of `example_id`, `prediction`, `score`, `error`, `trace_id`.

    Idempotent: a position the run has a result for already is skipped (a resumed or re-run shard writes
    each example once); returns how many were added. Every example and trace named must be the tenant's (NotFoundError otherwise, nothing written), and an
    example must be of the run's dataset when it has one (WrongParentError, nothing written). One
    audit event on the run ("add_results") gives its result count before and after and the positions added.
    """
    run = await get_owned(session, EvaluationRun, tenant_id=tenant_id, id=run_id, for_update=True)
    have = await recorded_positions(session, tenant_id=tenant_id, run_id=run_id)
    results = [r for r in results if r["position"] not in have]
    if not results:
        return 0
    dataset = ("dataset", run.dataset_id) if run.dataset_id is not None else None
    examples = [r.get("example_id") for r in results]
    await check_owned(session, ExampleRow, examples, tenant_id=tenant_id, parent=dataset)
    await check_owned(session, Trace, [r.get("trace_id") for r in results], tenant_id=tenant_id)
    had = len(have)
    now = utcnow()
    rows = [
        {
            "id": uuid.uuid4(),
            "tenant_id": tenant_id,
            "run_id": run_id,
            "position": r["position"],
            "example_id": r.get("example_id"),
            "prediction": to_jsonable(r.get("prediction")),
            "score": r.get("score"),
            "error": r.get("error"),
            "trace_id": r.get("trace_id"),
            "created_at": now,
            "updated_at": now,
        }
        for r in results
    ]
    await session.execute(insert(EvaluationResultRow), rows)
    positions: list[int] = [r["position"] for r in results]
    await audit.record_event(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="add_results",
        resource_type=EvaluationRun.__tablename__,
        resource_id=run_id,
        before={"results": had},
        after={"results": had + len(rows), "positions": [min(positions), max(positions)]},
    )
    return len(rows)


async def recorded_positions(session: AsyncSession, *, tenant_id: uuid.UUID, run_id: uuid.UUID) -> set[int]:
    """The example positions the run has a result for."""
    stmt = select(EvaluationResultRow.position).where(
        EvaluationResultRow.tenant_id == tenant_id, EvaluationResultRow.run_id == run_id
    )
    return set((await session.execute(stmt)).scalars())


async def list_results(
    session: AsyncSession, *, tenant_id: uuid.UUID, run_id: uuid.UUID
) -> list[EvaluationResultRow]:
    return await list_owned(
        session,
        EvaluationResultRow,
        EvaluationResultRow.run_id == run_id,
        tenant_id=tenant_id,
        order_by=EvaluationResultRow.position,
    )


async def summarize(session: AsyncSession, *, tenant_id: uuid.UUID, run_id: uuid.UUID) -> dict[str, Any]:
    """Count, mean score and errors of a run's results."""
    stmt = select(
        func.count(), func.avg(EvaluationResultRow.score), func.count(EvaluationResultRow.error)
    ).where(EvaluationResultRow.tenant_id == tenant_id, EvaluationResultRow.run_id == run_id)
    count, mean, errors = (await session.execute(stmt)).one()
    return {"count": count, "mean_score": float(mean) if mean is not None else None, "errors": errors}
