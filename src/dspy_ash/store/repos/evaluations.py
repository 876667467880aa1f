"""Per-example results of an evaluation run."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._types import utcnow
from dspy_ash.store.jsonable import to_jsonable
from dspy_ash.store.models import EvaluationResult, EvaluationRun
from dspy_ash.store.repos._base import get_owned


async def add_results(
    session: AsyncSession, *, tenant_id: uuid.UUID, run_id: uuid.UUID, results: list[dict[str, Any]]
) -> int:
    """Each result: `position`, and any of `example_id`, `prediction`, `score`, `error`, `trace_id`."""
    await get_owned(session, EvaluationRun, tenant_id=tenant_id, id=run_id)
    if not results:
        return 0
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
    await session.execute(insert(EvaluationResult), rows)
    return len(rows)


async def list_results(
    session: AsyncSession, *, tenant_id: uuid.UUID, run_id: uuid.UUID
) -> list[EvaluationResult]:
    stmt = (
        select(EvaluationResult)
        .where(EvaluationResult.tenant_id == tenant_id, EvaluationResult.run_id == run_id)
        .order_by(EvaluationResult.position)
    )
    return list((await session.execute(stmt)).scalars())


async def summarize(session: AsyncSession, *, tenant_id: uuid.UUID, run_id: uuid.UUID) -> dict[str, Any]:
    """Count, mean score and errors of a run's results."""
    stmt = select(func.count(), func.avg(EvaluationResult.score), func.count(EvaluationResult.error)).where(
        EvaluationResult.tenant_id == tenant_id, EvaluationResult.run_id == run_id
    )
    count, mean, errors = (await session.execute(stmt)).one()
    return {"count": count, "mean_score": float(mean) if mean is not None else None, "errors": errors}
