"""Optimizer and evaluation runs and their state machine.

    queued ──> running ──> succeeded
       │          ├──────> failed
       └──────────┴──────> cancelled

A transition is a compare-and-set (`UPDATE ... WHERE status = <expected>`), so two workers racing
for one run cannot both win; an edge the machine lacks raises IllegalTransitionError.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._errors import IllegalTransitionError, NotFoundError
from dspy_ash.store._types import utcnow
from dspy_ash.store.models import Dataset, EvaluationRun, OptimizerRun, Program, ProgramVersion
from dspy_ash.store.repos import audit
from dspy_ash.store.repos._base import check_owned, get_owned, snapshot

RunKind = Literal["optimizer", "evaluation"]
Run = OptimizerRun | EvaluationRun
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
TRANSITIONS: dict[str, frozenset[str]] = {
    "queued": frozenset({"running", "cancelled"}),
    "running": frozenset({"succeeded", "failed", "cancelled"}),
    "succeeded": frozenset(),
    "failed": frozenset(),
    "cancelled": frozenset(),
}
RUN_MODELS: dict[RunKind, type[OptimizerRun] | type[EvaluationRun]] = {
    "optimizer": OptimizerRun,
    "evaluation": EvaluationRun,
}


async def create_optimizer_run(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    program_id: uuid.UUID,
    optimizer: str,
    config: dict[str, Any] | None = None,
    metric: str | None = None,
    dataset_id: uuid.UUID | None = None,
    dataset_hash: str | None = None,
    base_version_id: uuid.UUID | None = None,
) -> OptimizerRun:
    dataset = await _check_links(session, tenant_id, program_id, dataset_id, base_version_id)
    run = OptimizerRun(
        tenant_id=tenant_id,
        program_id=program_id,
        optimizer=optimizer,
        config=config or {},
        metric=metric,
        dataset_id=dataset_id,
        dataset_hash=dataset_hash or (dataset.content_hash if dataset else None),
        base_version_id=base_version_id,
    )
    session.add(run)
    await audit.record(session, tenant_id=tenant_id, actor=actor, action="create", row=run)
    return run


async def create_evaluation_run(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    program_id: uuid.UUID,
    version_id: uuid.UUID | None = None,
    dataset_id: uuid.UUID | None = None,
    split: str | None = None,
    dataset_hash: str | None = None,
    config: dict[str, Any] | None = None,
    metric: str | None = None,
) -> EvaluationRun:
    dataset = await _check_links(session, tenant_id, program_id, dataset_id, version_id)
    run = EvaluationRun(
        tenant_id=tenant_id,
        program_id=program_id,
        version_id=version_id,
        dataset_id=dataset_id,
        split=split,
        config=config or {},
        metric=metric,
        dataset_hash=dataset_hash or (dataset.content_hash if dataset else None),
    )
    session.add(run)
    await audit.record(session, tenant_id=tenant_id, actor=actor, action="create", row=run)
    return run


async def get_run(session: AsyncSession, *, tenant_id: uuid.UUID, kind: RunKind, run_id: uuid.UUID) -> Run:
    return await get_owned(session, RUN_MODELS[kind], tenant_id=tenant_id, id=run_id)


async def list_runs(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    kind: RunKind,
    status: str | None = None,
    program_id: uuid.UUID | None = None,
    limit: int = 100,
) -> list[Run]:
    model = RUN_MODELS[kind]
    stmt = select(model).where(model.tenant_id == tenant_id)
    if status is not None:
        stmt = stmt.where(model.status == status)
    if program_id is not None:
        stmt = stmt.where(model.program_id == program_id)
    stmt = stmt.order_by(model.created_at.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def transition(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    kind: RunKind,
    run_id: uuid.UUID,
    to: str,
    error: str | None = None,
    traceback: str | None = None,
    result_version_id: uuid.UUID | None = None,
    score: float | None = None,
) -> Run:
    """Move a run along one edge of the state machine, recording times, error and result."""
    model = RUN_MODELS[kind]
    run = await get_owned(session, model, tenant_id=tenant_id, id=run_id)
    current = run.status
    if to not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransitionError(run_id, current, to)
    before = snapshot(run)
    values: dict[str, Any] = {"status": to, "updated_at": utcnow()}
    if to == "running":
        values["started_at"] = utcnow()
    if to in TERMINAL:
        values["finished_at"] = utcnow()
        if to == "succeeded":
            values["progress"] = 1.0
    if error is not None:
        values["error"] = error
    if traceback is not None:
        values["traceback"] = traceback
    if score is not None:
        values["score"] = score
    if result_version_id is not None:
        if kind != "optimizer":
            raise ValueError("only optimizer runs produce a version")
        program = ("program", run.program_id)  # the run's program's version, not any of the tenant's
        await check_owned(session, ProgramVersion, [result_version_id], tenant_id=tenant_id, parent=program)
        values["result_version_id"] = result_version_id
    result = await session.execute(
        update(model)
        .where(model.id == run_id, model.tenant_id == tenant_id, model.status == current)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]  # someone else moved it first
        await session.refresh(run)
        raise IllegalTransitionError(run_id, run.status, to)
    await session.refresh(run)
    await audit.record(session, tenant_id=tenant_id, actor=actor, action=to, row=run, before=before)
    return run


async def report_progress(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    kind: RunKind,
    run_id: uuid.UUID,
    progress: float,
    message: str = "",
) -> None:
    """Progress is telemetry, not a change of the resource: no audit event (a worker reports it often).
    Another tenant's run (or none) is NotFoundError, as everywhere."""
    model = RUN_MODELS[kind]
    result = await session.execute(
        update(model)
        .where(model.id == run_id, model.tenant_id == tenant_id)
        .values(progress=max(0.0, min(1.0, progress)), progress_message=message, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFoundError(model.__tablename__, run_id)


async def record_trial(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    kind: RunKind,
    run_id: uuid.UUID,
    trial: dict[str, Any],
) -> list[dict[str, Any]]:
    """Append one trial's scores (`{"trial": 3, "score": 0.61, "params": {...}}`) to the run.

    Audited ("trial"): the run's score is the best trial's, so a trial can change it."""
    run = await get_owned(session, RUN_MODELS[kind], tenant_id=tenant_id, id=run_id, for_update=True)
    before = snapshot(run)
    run.trials = [*run.trials, trial]  # reassigned, not mutated: JSON columns track assignment only
    best = [t["score"] for t in run.trials if isinstance(t.get("score"), int | float)]
    if best:
        run.score = max(best)
    await audit.record(session, tenant_id=tenant_id, actor=actor, action="trial", row=run, before=before)
    return run.trials


async def _check_links(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    program_id: uuid.UUID,
    dataset_id: uuid.UUID | None,
    version_id: uuid.UUID | None,
) -> Dataset | None:
    """Everything a run points at must be in the run's tenant, and its version a version of its program.
    Returns the dataset (for its hash)."""
    await get_owned(session, Program, tenant_id=tenant_id, id=program_id)
    await check_owned(
        session, ProgramVersion, [version_id], tenant_id=tenant_id, parent=("program", program_id)
    )
    if dataset_id is None:
        return None
    return await get_owned(session, Dataset, tenant_id=tenant_id, id=dataset_id)
