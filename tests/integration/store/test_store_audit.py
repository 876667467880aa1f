"""Audit events: written in the same transaction as the change, listable per resource, append-only."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from dspy_ash.store import ConflictError, Database, repos
from dspy_ash.store.models import AuditEvent, EvaluationRun, Program


async def _audit_count(db: Database, tenant: uuid.UUID) -> int:
    async with db.transaction() as s:
        return (
            await s.execute(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.tenant_id == tenant)
            )
        ).scalar_one()


async def test_every_change_has_its_event_with_before_and_after(db: Database, tenant: uuid.UUID) -> None:
    async with db.transaction() as s:
        program = await repos.programs.create_program(
            s, tenant_id=tenant, actor="alice", name="p", source="a.b:C"
        )
    async with db.transaction() as s:
        await repos.programs.update_program(
            s, tenant_id=tenant, actor="bob", program_id=program.id, description="now described"
        )
    async with db.transaction() as s:
        await repos.programs.delete_program(s, tenant_id=tenant, actor="carol", program_id=program.id)
    async with db.transaction() as s:
        events = await repos.audit.list_events(
            s, tenant_id=tenant, resource_type="program", resource_id=program.id
        )
    assert [(e.actor, e.action) for e in events] == [
        ("alice", "create"),
        ("bob", "update"),
        ("carol", "delete"),
    ]
    create, change, removal = events
    assert create.before is None and create.after is not None and create.after["name"] == "p"
    assert change.before is not None and change.before["description"] == ""
    assert change.after is not None and change.after["description"] == "now described"
    assert removal.before is not None and removal.after is None


async def test_a_failing_change_leaves_no_audit_row(db: Database, tenant: uuid.UUID) -> None:
    async with db.transaction() as s:
        await repos.programs.create_program(s, tenant_id=tenant, actor="t", name="taken", source="a.b:C")
    before = await _audit_count(db, tenant)
    with pytest.raises(ConflictError):
        async with db.transaction() as s:
            await repos.programs.create_program(s, tenant_id=tenant, actor="t", name="taken", source="a.b:D")
    assert await _audit_count(db, tenant) == before


async def test_a_transaction_failing_after_the_change_drops_change_and_event_together(
    db: Database, tenant: uuid.UUID
) -> None:
    before = await _audit_count(db, tenant)
    with pytest.raises(RuntimeError):
        async with db.transaction() as s:
            await repos.programs.create_program(s, tenant_id=tenant, actor="t", name="doomed", source="a.b:C")
            assert await _audit_count_in(s, tenant) == before + 1  # the event is in the same transaction
            raise RuntimeError("something later in the action failed")
    assert await _audit_count(db, tenant) == before
    async with db.transaction() as s:
        assert await repos.programs.find_program(s, tenant_id=tenant, name="doomed") is None


async def _audit_count_in(s: object, tenant: uuid.UUID) -> int:
    from sqlalchemy.ext.asyncio import AsyncSession

    assert isinstance(s, AsyncSession)
    return (
        await s.execute(select(func.count()).select_from(AuditEvent).where(AuditEvent.tenant_id == tenant))
    ).scalar_one()


@pytest.mark.parametrize("statement", ["update", "delete"])
async def test_audit_events_are_append_only(db: Database, tenant: uuid.UUID, statement: str) -> None:
    async with db.transaction() as s:
        await repos.programs.create_program(s, tenant_id=tenant, actor="t", name="p", source="a.b:C")
    before = await _audit_count(db, tenant)  # the tenant's creation and the program's
    assert before == 2
    stmt = update(AuditEvent).values(actor="mallory") if statement == "update" else delete(AuditEvent)
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.transaction() as s:
            await s.execute(stmt.where(AuditEvent.tenant_id == tenant))
    assert await _audit_count(db, tenant) == before
    async with db.transaction() as s:
        assert {e.actor for e in await repos.audit.list_events(s, tenant_id=tenant)} == {"test", "t"}


async def test_direct_program_rows_are_untouched_by_a_failed_update(db: Database, tenant: uuid.UUID) -> None:
    async with db.transaction() as s:
        program = await repos.programs.create_program(
            s, tenant_id=tenant, actor="t", name="p", source="a.b:C"
        )
    with pytest.raises(ValueError):
        async with db.transaction() as s:
            await repos.programs.update_program(
                s, tenant_id=tenant, actor="t", program_id=program.id, description="changed"
            )
            raise ValueError("abort")
    async with db.transaction() as s:
        row = (await s.execute(select(Program).where(Program.id == program.id))).scalar_one()
        assert row.description == ""


# -- writes that used to go unaudited ------------------------------------------------------------------


async def _program_with_runs(db: Database, tenant: uuid.UUID) -> dict[str, uuid.UUID]:
    from store_helpers import program_state

    async with db.transaction() as s:
        program = await repos.programs.create_program(
            s, tenant_id=tenant, actor="t", name="p", source="a.b:C"
        )
        v1 = await repos.versions.create_version(
            s, tenant_id=tenant, actor="t", program_id=program.id, state=program_state("one")
        )
        v2 = await repos.versions.create_version(
            s, tenant_id=tenant, actor="t", program_id=program.id, state=program_state("two"), parent_id=v1.id
        )
        opt = await repos.runs.create_optimizer_run(
            s, tenant_id=tenant, actor="t", program_id=program.id, optimizer="X", base_version_id=v1.id
        )
        ev = await repos.runs.create_evaluation_run(
            s, tenant_id=tenant, actor="t", program_id=program.id, version_id=v2.id
        )
        await repos.evaluations.add_results(
            s, tenant_id=tenant, actor="t", run_id=ev.id, results=[{"position": 0, "score": 1.0}]
        )
    return {"program": program.id, "v1": v1.id, "v2": v2.id, "opt": opt.id, "ev": ev.id}


async def test_adding_results_is_audited_in_the_same_transaction(db: Database, tenant: uuid.UUID) -> None:
    ids = await _program_with_runs(db, tenant)
    results = [{"position": p, "score": 0.5} for p in (3, 1, 2)]
    with pytest.raises(RuntimeError):
        async with db.transaction() as s:
            await repos.evaluations.add_results(
                s, tenant_id=tenant, actor="w", run_id=ids["ev"], results=results
            )
            raise RuntimeError("the worker died before committing")
    async with db.transaction() as s:
        events = await repos.audit.list_events(s, tenant_id=tenant, resource_id=ids["ev"])
        assert [e.action for e in events] == ["create", "add_results"]  # the setup's, not the rolled-back one
        await repos.evaluations.add_results(s, tenant_id=tenant, actor="w", run_id=ids["ev"], results=results)
    async with db.transaction() as s:
        last = (await repos.audit.list_events(s, tenant_id=tenant, resource_id=ids["ev"]))[-1]
        assert (await repos.evaluations.summarize(s, tenant_id=tenant, run_id=ids["ev"]))["count"] == 4
    assert (last.actor, last.action, last.resource_type) == ("w", "add_results", "evaluation_run")
    assert last.before == {"results": 1} and last.after == {"results": 4, "positions": [1, 3]}


async def test_a_trial_is_audited_with_the_score_it_changed(db: Database, tenant: uuid.UUID) -> None:
    ids = await _program_with_runs(db, tenant)
    async with db.transaction() as s:
        for score in (0.4, 0.7, 0.5):
            await repos.runs.record_trial(
                s, tenant_id=tenant, actor="w", kind="optimizer", run_id=ids["opt"], trial={"score": score}
            )
    async with db.transaction() as s:
        trials = [
            e
            for e in await repos.audit.list_events(s, tenant_id=tenant, resource_id=ids["opt"])
            if e.action == "trial"
        ]
    assert [(e.before or {}).get("score") for e in trials] == [None, 0.4, 0.7]
    assert [(e.after or {}).get("score") for e in trials] == [0.4, 0.7, 0.7]
    assert all(e.actor == "w" and "trials" not in (e.after or {}) for e in trials)


async def test_pruning_traces_is_audited_when_it_removes_any(db: Database, tenant: uuid.UUID) -> None:
    from datetime import timedelta

    from sqlalchemy import insert

    from dspy_ash.store._types import utcnow
    from dspy_ash.store.models import Trace

    async with db.transaction() as s:
        for _ in range(3):
            now = utcnow()
            await s.execute(
                insert(Trace).values(
                    id=uuid.uuid4(), tenant_id=tenant, name="P", call_id="c", status="ok",
                    started_at=now - timedelta(hours=1), duration=0.1, created_at=now, updated_at=now,
                )
            )  # fmt: skip
    async with db.transaction() as s:
        assert (
            await repos.traces.prune_traces(s, tenant_id=tenant, actor="ops", max_age=timedelta(days=1)) == 0
        )
        assert await repos.traces.prune_traces(s, tenant_id=tenant, actor="ops", max_traces=1) == 2
        events = await repos.audit.list_events(s, tenant_id=tenant, resource_type="trace")
    assert len(events) == 1  # the pass that removed nothing wrote nothing
    (event,) = events
    assert (event.actor, event.action, event.resource_id) == ("ops", "prune", tenant)
    assert event.after == {"removed": 2, "max_age_seconds": None, "max_traces": 1}


async def test_deleting_a_program_audits_every_resource_that_goes_with_it(
    db: Database, tenant: uuid.UUID
) -> None:
    ids = await _program_with_runs(db, tenant)
    async with db.transaction() as s:
        other = await repos.programs.create_program(s, tenant_id=tenant, actor="t", name="q", source="a.b:D")
        # another program's evaluation of this program's version: unlinked (SET NULL), not deleted. The
        # store refuses to make such a run now (WrongParentError); a database from before may hold one.
        foreign_eval = await repos.runs.create_evaluation_run(
            s, tenant_id=tenant, actor="t", program_id=other.id
        )
        await s.execute(
            update(EvaluationRun).where(EvaluationRun.id == foreign_eval.id).values(version_id=ids["v2"])
        )
    async with db.transaction() as s:
        await repos.programs.delete_program(s, tenant_id=tenant, actor="carol", program_id=ids["program"])
    async with db.transaction() as s:
        events = await repos.audit.list_events(s, tenant_id=tenant, newest_first=True, limit=6)
        assert await repos.runs.list_runs(s, tenant_id=tenant, kind="optimizer") == []
    deletes = {(e.resource_type, e.resource_id) for e in events if e.action == "delete"}
    assert deletes == {
        ("program", ids["program"]),
        ("program_version", ids["v1"]),
        ("program_version", ids["v2"]),
        ("optimizer_run", ids["opt"]),
        ("evaluation_run", ids["ev"]),
    }
    assert all(e.actor == "carol" for e in events[:6])
    assert all(e.before is not None and e.after is None for e in events if e.action == "delete")
    (unlink,) = [e for e in events if e.action == "update"]
    assert unlink.resource_id == foreign_eval.id and unlink.before is not None and unlink.after is not None
    assert unlink.before["version_id"] == str(ids["v2"]) and unlink.after["version_id"] is None
    # modules and results are parts of what was deleted: no events of their own
    assert not {e.resource_type for e in events} & {"module", "evaluation_result"}


async def test_a_failed_delete_leaves_no_events(db: Database, tenant: uuid.UUID) -> None:
    ids = await _program_with_runs(db, tenant)
    before = await _audit_count(db, tenant)
    with pytest.raises(RuntimeError):
        async with db.transaction() as s:
            await repos.programs.delete_program(s, tenant_id=tenant, actor="t", program_id=ids["program"])
            raise RuntimeError("abort")
    assert await _audit_count(db, tenant) == before


# -- paging through the trail ---------------------------------------------------------------------------


async def _page_all(
    db: Database, tenant: uuid.UUID, *, newest_first: bool, limit: int, **filters: object
) -> list[AuditEvent]:
    from dspy_ash.store.repos.audit import EventCursor

    seen: list[AuditEvent] = []
    cursor: EventCursor | None = None
    while True:
        async with db.transaction() as s:
            page = await repos.audit.list_events(
                s,
                tenant_id=tenant,
                limit=limit,
                newest_first=newest_first,
                cursor=cursor,
                **filters,  # type: ignore[arg-type]
            )
        assert len(page) <= limit
        seen.extend(page)
        if len(page) < limit:
            return seen
        cursor = EventCursor.parse(str(EventCursor.of(page[-1])))  # through the wire form


async def test_paging_newest_first_and_oldest_first_visits_every_event_once(
    db: Database, tenant: uuid.UUID
) -> None:
    from datetime import timedelta

    from dspy_ash.store._types import utcnow

    async with db.transaction() as s:
        for i in range(10):
            await repos.programs.create_program(s, tenant_id=tenant, actor="t", name=f"p{i}", source="a.b:C")
        # events sharing one timestamp: only the id tells them apart, so the keyset must include it
        tied = utcnow() + timedelta(seconds=5)
        for _ in range(7):
            s.add(AuditEvent(tenant_id=tenant, actor="t", action="tie", resource_type="x",
                             resource_id=uuid.uuid4(), created_at=tied))  # fmt: skip
    async with db.transaction() as s:
        everything = await repos.audit.list_events(s, tenant_id=tenant, limit=1000)
    assert len(everything) == 1 + 10 + 7
    keys = [(e.created_at, e.id) for e in everything]
    assert keys == sorted(keys)
    for limit in (1, 3, 7, 18, 50):
        newest = await _page_all(db, tenant, newest_first=True, limit=limit)
        assert [e.id for e in newest] == [e.id for e in reversed(everything)], limit
        oldest = await _page_all(db, tenant, newest_first=False, limit=limit)
        assert [e.id for e in oldest] == [e.id for e in everything], limit


async def test_a_page_is_the_newest_events_and_filters_still_apply(db: Database, tenant: uuid.UUID) -> None:
    async with db.transaction() as s:
        program = await repos.programs.create_program(
            s, tenant_id=tenant, actor="t", name="p", source="a.b:C"
        )
        for i in range(5):
            await repos.programs.update_program(
                s, tenant_id=tenant, actor="t", program_id=program.id, description=str(i)
            )
    async with db.transaction() as s:
        newest = await repos.audit.list_events(
            s, tenant_id=tenant, resource_id=program.id, newest_first=True, limit=2
        )
    assert [(e.after or {}).get("description") for e in newest] == ["4", "3"]
    paged = await _page_all(db, tenant, newest_first=True, limit=2, resource_id=program.id)
    assert [e.action for e in paged] == ["update"] * 5 + ["create"]


@pytest.mark.parametrize(
    "text", ["", "garbage", "2026-01-01T00:00:00/not-a-uuid", f"2026-01-01T00:00:00/{uuid.uuid4()}"]
)
def test_a_cursor_not_made_by_the_store_is_a_typed_error(text: str) -> None:
    from dspy_ash.store import InvalidCursorError
    from dspy_ash.store.repos.audit import EventCursor

    with pytest.raises(InvalidCursorError):
        EventCursor.parse(text)
