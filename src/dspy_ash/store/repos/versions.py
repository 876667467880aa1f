"""Program versions: immutable saved states (DSPy's JSON shape, verbatim) with their provenance.

Provenance is columns on the version (parent, run, dataset and its hash, metric, scores), so
"which version is best, and how was it made" is one query (`best_version`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.store._errors import NotFoundError
from dspy_ash.store._hashing import state_hash
from dspy_ash.store.models import Dataset, ModuleRow, OptimizerRun, Program, ProgramVersion
from dspy_ash.store.repos import audit
from dspy_ash.store.repos._base import check_owned, get_owned, list_owned, snapshot


@dataclass(frozen=True, slots=True)
class Provenance:
    version: ProgramVersion
    run: OptimizerRun | None
    dataset: Dataset | None


async def create_version(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    actor: str,
    program_id: uuid.UUID,
    state: dict[str, Any],
    parent_id: uuid.UUID | None = None,
    optimizer_run_id: uuid.UUID | None = None,
    dataset_id: uuid.UUID | None = None,
    dataset_hash: str | None = None,
    metric: str | None = None,
    score: float | None = None,
    scores: dict[str, Any] | None = None,
    note: str = "",
    module_types: dict[str, str] | None = None,
) -> ProgramVersion:
    """Store a compiled state as the program's next version, plus one `module` row per predictor in it."""
    await get_owned(session, Program, tenant_id=tenant_id, id=program_id)  # the program is this tenant's
    # the parent and the run that made it are this program's, not merely this tenant's
    for linked_model, linked_id in ((ProgramVersion, parent_id), (OptimizerRun, optimizer_run_id)):
        await check_owned(
            session, linked_model, [linked_id], tenant_id=tenant_id, parent=("program", program_id)
        )
    if dataset_id is not None:
        dataset = await get_owned(session, Dataset, tenant_id=tenant_id, id=dataset_id)
        dataset_hash = dataset_hash or dataset.content_hash
    version = ProgramVersion(
        tenant_id=tenant_id,
        program_id=program_id,
        number=await _next_number(session, program_id),
        parent_id=parent_id,
        optimizer_run_id=optimizer_run_id,
        dataset_id=dataset_id,
        dataset_hash=dataset_hash,
        metric=metric,
        score=score,
        scores=scores or {},
        state=state,
        content_hash=state_hash(state),
        note=note,
    )
    session.add(version)
    await session.flush()
    _add_module_rows(session, version, module_types or {})
    await audit.record(session, tenant_id=tenant_id, actor=actor, action="create", row=version)
    return version


async def _next_number(session: AsyncSession, program_id: uuid.UUID) -> int:
    last = (
        await session.execute(
            select(func.max(ProgramVersion.number)).where(ProgramVersion.program_id == program_id)
        )
    ).scalar_one()
    return (last or 0) + 1


def _add_module_rows(session: AsyncSession, version: ProgramVersion, types: dict[str, str]) -> None:
    """One `module` row per predictor in the version's state (`types` names a predictor's class)."""
    for name, predictor_state in version.state.items():
        if name == "metadata" or not isinstance(predictor_state, dict):
            continue
        session.add(
            ModuleRow(
                tenant_id=version.tenant_id,
                program_id=version.program_id,
                version_id=version.id,
                name=name,
                type=types.get(name, "predict"),
                state=predictor_state,
            )
        )


async def get_version(
    session: AsyncSession, *, tenant_id: uuid.UUID, version_id: uuid.UUID
) -> ProgramVersion:
    return await get_owned(session, ProgramVersion, tenant_id=tenant_id, id=version_id)


async def list_versions(
    session: AsyncSession, *, tenant_id: uuid.UUID, program_id: uuid.UUID
) -> list[ProgramVersion]:
    return await list_owned(
        session,
        ProgramVersion,
        ProgramVersion.program_id == program_id,
        tenant_id=tenant_id,
        order_by=ProgramVersion.number,
    )


async def promote_version(
    session: AsyncSession, *, tenant_id: uuid.UUID, actor: str, program_id: uuid.UUID, version_id: uuid.UUID
) -> Program:
    """Make `version_id` (a version of this program: WrongParentError otherwise) the one the program is
    served with. Audited as "promote" on the program, its `serving_version_id` before and after."""
    program = await get_owned(session, Program, tenant_id=tenant_id, id=program_id, for_update=True)
    await check_owned(
        session, ProgramVersion, [version_id], tenant_id=tenant_id, parent=("program", program_id)
    )
    before = snapshot(program)
    program.serving_version_id = version_id
    await audit.record(
        session, tenant_id=tenant_id, actor=actor, action="promote", row=program, before=before
    )
    return program


async def serving_version(
    session: AsyncSession, *, tenant_id: uuid.UUID, program_id: uuid.UUID
) -> ProgramVersion:
    """The version to run the program with: the promoted one, else its latest; NotFoundError
    ("program_version", the program's id) when it has none."""
    program = await get_owned(session, Program, tenant_id=tenant_id, id=program_id)
    stmt = select(ProgramVersion).where(
        ProgramVersion.tenant_id == tenant_id, ProgramVersion.program_id == program_id
    )
    if program.serving_version_id is not None:
        promoted = (
            await session.execute(stmt.where(ProgramVersion.id == program.serving_version_id))
        ).scalar_one_or_none()
        if promoted is not None:  # no FK keeps the link, so check it still leads somewhere
            return promoted
    latest = (
        await session.execute(stmt.order_by(ProgramVersion.number.desc()).limit(1))
    ).scalar_one_or_none()
    if latest is None:
        raise NotFoundError(ProgramVersion.__tablename__, program_id)
    return latest


async def list_modules(
    session: AsyncSession, *, tenant_id: uuid.UUID, version_id: uuid.UUID
) -> list[ModuleRow]:
    return await list_owned(
        session, ModuleRow, ModuleRow.version_id == version_id, tenant_id=tenant_id, order_by=ModuleRow.name
    )


async def best_version(
    session: AsyncSession, *, tenant_id: uuid.UUID, program_id: uuid.UUID, metric: str | None = None
) -> Provenance | None:
    """The highest-scoring version with the run that made it and the dataset it was scored on, in one query."""
    stmt = (
        select(ProgramVersion, OptimizerRun, Dataset)
        .outerjoin(
            OptimizerRun,
            (OptimizerRun.id == ProgramVersion.optimizer_run_id) & (OptimizerRun.tenant_id == tenant_id),
        )
        .outerjoin(Dataset, (Dataset.id == ProgramVersion.dataset_id) & (Dataset.tenant_id == tenant_id))
        .where(
            ProgramVersion.tenant_id == tenant_id,
            ProgramVersion.program_id == program_id,
            ProgramVersion.score.is_not(None),
        )
        .order_by(ProgramVersion.score.desc(), ProgramVersion.number.desc())
        .limit(1)
    )
    if metric is not None:
        stmt = stmt.where(ProgramVersion.metric == metric)
    row = (await session.execute(stmt)).first()
    if row is None:
        return None
    return Provenance(version=row[0], run=row[1], dataset=row[2])


def diff_states(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What changed between two saved states, per predictor: instructions, field prefixes/descriptions,
    demos added and removed (compared by content), and the LM settings."""
    names = [n for n in dict.fromkeys([*old, *new]) if n != "metadata"]
    changes: dict[str, Any] = {}
    for name in names:
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        if a is None or b is None:
            changes[name] = {"added" if a is None else "removed": True}
            continue
        entry: dict[str, Any] = {}
        sig_a, sig_b = a.get("signature", {}), b.get("signature", {})
        if sig_a.get("instructions") != sig_b.get("instructions"):
            entry["instructions"] = {"old": sig_a.get("instructions"), "new": sig_b.get("instructions")}
        if sig_a.get("fields") != sig_b.get("fields"):
            entry["fields"] = {"old": sig_a.get("fields"), "new": sig_b.get("fields")}
        demos_a, demos_b = a.get("demos", []), b.get("demos", [])
        added = [d for d in demos_b if d not in demos_a]
        removed = [d for d in demos_a if d not in demos_b]
        if added or removed:
            entry["demos"] = {"added": added, "removed": removed}
        if a.get("lm") != b.get("lm"):
            entry["lm"] = {"old": a.get("lm"), "new": b.get("lm")}
        other = sorted(k for k in {*a, *b} - {"signature", "demos", "lm"} if a.get(k) != b.get(k))
        if other:
            entry["other"] = {k: {"old": a.get(k), "new": b.get(k)} for k in other}
        changes[name] = entry
    return changes


async def diff_versions(
    session: AsyncSession, *, tenant_id: uuid.UUID, old_id: uuid.UUID, new_id: uuid.UUID
) -> dict[str, Any]:
    old = await get_owned(session, ProgramVersion, tenant_id=tenant_id, id=old_id)
    new = await get_owned(session, ProgramVersion, tenant_id=tenant_id, id=new_id)
    return {
        "old": old.number,
        "new": new.number,
        "predictors": diff_states(old.state, new.state),
        "score": {"old": old.score, "new": new.score},
    }


async def list_versions_of(
    session: AsyncSession, *, tenant_id: uuid.UUID, program_ids: list[uuid.UUID]
) -> list[ProgramVersion]:
    """The versions of several programs in one query (by program, then number): for pages that include them."""
    if not program_ids:
        return []
    stmt = (
        select(ProgramVersion)
        .where(ProgramVersion.tenant_id == tenant_id, ProgramVersion.program_id.in_(program_ids))
        .order_by(ProgramVersion.program_id, ProgramVersion.number)
    )
    return list((await session.execute(stmt)).scalars())


async def list_first_versions_of(
    session: AsyncSession,
    *,
    tenant_id: uuid.UUID,
    program_ids: list[uuid.UUID],
    per_program: int,
    after_number: int | None = None,
) -> list[ProgramVersion]:
    """Up to `per_program` versions of each program (numbers above `after_number`), in one query: a
    window over the programs, so a page of programs with their first versions costs one statement
    however many versions each has. Ordered by program, then number."""
    if not program_ids:
        return []
    position = (
        func.row_number()
        .over(partition_by=ProgramVersion.program_id, order_by=ProgramVersion.number)
        .label("position")
    )
    inner = select(ProgramVersion.id, position).where(
        ProgramVersion.tenant_id == tenant_id, ProgramVersion.program_id.in_(program_ids)
    )
    if after_number is not None:
        inner = inner.where(ProgramVersion.number > after_number)
    ranked = inner.subquery()
    stmt = (
        select(ProgramVersion)
        .join(ranked, ranked.c.id == ProgramVersion.id)
        .where(ranked.c.position <= per_program)
        .order_by(ProgramVersion.program_id, ProgramVersion.number)
    )
    return list((await session.execute(stmt)).scalars())
