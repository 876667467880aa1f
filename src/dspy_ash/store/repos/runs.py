"""Optimizer and evaluation runs and their state machine.

    queued ──> running ──> succeeded
     ▲ │          ├──────> failed ────┐
     │ └──────────┴──────> cancelled ─┤
     └── (lease lost, resume) ◄───────┘

A transition is a compare-and-set (`UPDATE ... WHERE status = <expected>`), so two workers racing
for one run cannot both win; an edge the machine lacks raises IllegalTransitionError.

A running run is leased: `owner` is the worker that claimed it and `lease_until` how long the claim
holds unless renewed. A worker's transitions out of `running` name it as the expected owner, so a
worker that lost its lease (its run was claimed again after it stalled) cannot finish the run twice.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
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
    # back to queued: its worker died or stopped (lease), to be claimed again from its checkpoint
    "running": frozenset({"succeeded", "failed", "cancelled", "queued"}),
    "succeeded": frozenset(),
    "failed": frozenset({"queued"}),  # resumed
    "cancelled": frozenset({"queued"}),  # resumed
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
    owner: str | None = None,
    lease_seconds: float | None = None,
) -> Run:
    """Move a run along one edge of the state machine, recording times, error and result.

    To `running`, `owner` claims it for `lease_seconds`; out of `running`, a given `owner` must still
    hold it (IllegalTransitionError otherwise: the lease went to another worker)."""
    model = RUN_MODELS[kind]
    run = await get_owned(session, model, tenant_id=tenant_id, id=run_id)
    current = run.status
    if to not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransitionError(run_id, current, to)
    before = snapshot(run)
    now = utcnow()
    values: dict[str, Any] = {"status": to, "updated_at": now}
    expected = [model.id == run_id, model.tenant_id == tenant_id, model.status == current]
    if to == "running":
        values.update(started_at=run.started_at or now, owner=owner, attempts=model.attempts + 1)
        values["lease_until"] = now + timedelta(seconds=lease_seconds or 30.0)
    else:
        values.update(owner=None, lease_until=None)
        if current == "running" and owner is not None:
            expected.append(model.owner == owner)
    if to == "queued":  # again: what it did stays in its checkpoint, trials and results
        values.update(error=None, traceback=None, finished_at=None)
    if to in TERMINAL:
        values["finished_at"] = now
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
        update(model).where(*expected).values(**values).execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]  # someone else moved it first
        await session.refresh(run)
        raise IllegalTransitionError(run_id, run.status, to)
    await session.refresh(run)
    await audit.record(session, tenant_id=tenant_id, actor=actor, action=to, row=run, before=before)
    return run


async def claimable(session: AsyncSession, *, limit: int = 10) -> list[tuple[RunKind, uuid.UUID, uuid.UUID]]:
    """The oldest queued runs of every tenant, as (kind, tenant id, run id): a worker's candidates.
    Only an unscoped session sees them all; claiming one is `transition(..., to="running")`."""
    found: list[tuple[Any, RunKind, uuid.UUID, uuid.UUID]] = []
    for kind, model in RUN_MODELS.items():
        stmt = (
            select(model.created_at, model.tenant_id, model.id)
            .where(model.status == "queued")
            .order_by(model.created_at)
            .limit(limit)
        )
        for at, tenant, run in (await session.execute(stmt)).all():
            found.append((at, kind, tenant, run))
    found.sort(key=lambda row: row[0])
    return [(kind, tenant, run) for _, kind, tenant, run in found[:limit]]


async def expired_leases(session: AsyncSession) -> list[tuple[RunKind, uuid.UUID, uuid.UUID, str | None]]:
    """Running runs whose lease ran out (their worker died or stalled): (kind, tenant, run, owner)."""
    now = utcnow()
    found: list[tuple[RunKind, uuid.UUID, uuid.UUID, str | None]] = []
    for kind, model in RUN_MODELS.items():
        stmt = select(model.tenant_id, model.id, model.owner).where(
            model.status == "running", model.lease_until < now
        )
        for tenant, run, owner in (await session.execute(stmt)).all():
            found.append((kind, tenant, run, owner))
    return found


async def renew_lease(
    session: AsyncSession, *, kind: RunKind, run_id: uuid.UUID, owner: str, lease_seconds: float
) -> bool:
    """Extend `owner`'s lease of a running run; False when it holds it no more (cancelled, or claimed
    again after its lease ran out): the worker must stop working on it."""
    model = RUN_MODELS[kind]
    result = await session.execute(
        update(model)
        .where(model.id == run_id, model.status == "running", model.owner == owner)
        .values(lease_until=utcnow() + timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


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
