"""Optimizer and evaluation runs: the state machine, progress, trials, results."""

from __future__ import annotations

import uuid

import pytest
from store_helpers import program_state

from dspy_ash.store import Database, IllegalTransitionError, repos
from dspy_ash.store.models import OptimizerRun
from dspy_ash.store.repos.runs import TRANSITIONS, RunKind


async def _program(db: Database, tenant: uuid.UUID) -> uuid.UUID:
    async with db.transaction() as s:
        return (
            await repos.programs.create_program(s, tenant_id=tenant, actor="t", name="p", source="a.b:C")
        ).id


async def _run(db: Database, tenant: uuid.UUID, kind: RunKind) -> uuid.UUID:
    program_id = await _program(db, tenant)
    async with db.transaction() as s:
        if kind == "optimizer":
            run = await repos.runs.create_optimizer_run(
                s,
                tenant_id=tenant,
                actor="t",
                program_id=program_id,
                optimizer="MIPROv2",
                config={"num_trials": 3},
                metric="exact_match",
            )
        else:
            run = await repos.runs.create_evaluation_run(
                s, tenant_id=tenant, actor="t", program_id=program_id, metric="exact_match"
            )
        assert run.status == "queued"
        return run.id


async def _move(
    db: Database,
    tenant: uuid.UUID,
    kind: RunKind,
    run_id: uuid.UUID,
    to: str,
    *,
    error: str | None = None,
    traceback: str | None = None,
) -> str:
    async with db.transaction() as s:
        run = await repos.runs.transition(
            s,
            tenant_id=tenant,
            actor="worker",
            kind=kind,
            run_id=run_id,
            to=to,
            error=error,
            traceback=traceback,
        )
        return run.status


@pytest.mark.parametrize("kind", ["optimizer", "evaluation"])
@pytest.mark.parametrize(
    "path", [["running", "succeeded"], ["running", "failed"], ["running", "cancelled"], ["cancelled"]]
)
async def test_legal_paths(db: Database, tenant: uuid.UUID, kind: RunKind, path: list[str]) -> None:
    run_id = await _run(db, tenant, kind)
    for status in path:
        assert await _move(db, tenant, kind, run_id, status) == status
    async with db.transaction() as s:
        run = await repos.runs.get_run(s, tenant_id=tenant, kind=kind, run_id=run_id)
        assert run.finished_at is not None
        assert (run.started_at is not None) == ("running" in path)
        events = await repos.audit.list_events(s, tenant_id=tenant, resource_id=run_id)
        assert [e.action for e in events] == ["create", *path]


@pytest.mark.parametrize("kind", ["optimizer", "evaluation"])
async def test_every_illegal_edge_raises_a_typed_error(
    db: Database, tenant: uuid.UUID, kind: RunKind
) -> None:
    reach = {
        "queued": [],
        "running": ["running"],
        "succeeded": ["running", "succeeded"],
        "failed": ["running", "failed"],
        "cancelled": ["cancelled"],
    }
    for current, path in reach.items():
        for target in sorted(set(TRANSITIONS) - TRANSITIONS[current]):
            run_id = await _new_run_at(db, tenant, kind, path)
            with pytest.raises(IllegalTransitionError) as info:
                await _move(db, tenant, kind, run_id, target)
            assert (info.value.current, info.value.requested) == (current, target)
            async with db.transaction() as s:
                assert (
                    await repos.runs.get_run(s, tenant_id=tenant, kind=kind, run_id=run_id)
                ).status == current


async def _new_run_at(db: Database, tenant: uuid.UUID, kind: RunKind, path: list[str]) -> uuid.UUID:
    async with db.transaction() as s:
        program = await repos.programs.create_program(
            s, tenant_id=tenant, actor="t", name=uuid.uuid4().hex, source="a.b:C"
        )
        if kind == "optimizer":
            run = await repos.runs.create_optimizer_run(
                s, tenant_id=tenant, actor="t", program_id=program.id, optimizer="X"
            )
        else:
            run = await repos.runs.create_evaluation_run(
                s, tenant_id=tenant, actor="t", program_id=program.id
            )
    for status in path:
        await _move(db, tenant, kind, run.id, status)
    return run.id


async def test_progress_trials_error_and_result_version(db: Database, tenant: uuid.UUID) -> None:
    run_id = await _run(db, tenant, "optimizer")
    await _move(db, tenant, "optimizer", run_id, "running")
    async with db.transaction() as s:
        await repos.runs.report_progress(
            s, tenant_id=tenant, kind="optimizer", run_id=run_id, progress=0.5, message="trial 2 of 4"
        )
        await repos.runs.record_trial(
            s,
            tenant_id=tenant,
            actor="worker",
            kind="optimizer",
            run_id=run_id,
            trial={"trial": 1, "score": 0.4, "params": {"demos": 2}},
        )
        trials = await repos.runs.record_trial(
            s,
            tenant_id=tenant,
            actor="worker",
            kind="optimizer",
            run_id=run_id,
            trial={"trial": 2, "score": 0.7},
        )
        assert [t["trial"] for t in trials] == [1, 2]
        run = await repos.runs.get_run(s, tenant_id=tenant, kind="optimizer", run_id=run_id)
        version = await repos.versions.create_version(
            s,
            tenant_id=tenant,
            actor="t",
            program_id=run.program_id,
            optimizer_run_id=run_id,
            state=program_state(),
            score=0.7,
        )
    async with db.transaction() as s:
        run = await repos.runs.get_run(s, tenant_id=tenant, kind="optimizer", run_id=run_id)
        assert (run.progress, run.progress_message, run.score) == (0.5, "trial 2 of 4", 0.7)
        await repos.runs.transition(
            s,
            tenant_id=tenant,
            actor="w",
            kind="optimizer",
            run_id=run_id,
            to="succeeded",
            result_version_id=version.id,
        )
    async with db.transaction() as s:
        run = await repos.runs.get_run(s, tenant_id=tenant, kind="optimizer", run_id=run_id)
        assert isinstance(run, OptimizerRun)
        assert run.status == "succeeded" and run.progress == 1.0 and run.result_version_id == version.id
        done = await repos.runs.list_runs(s, tenant_id=tenant, kind="optimizer", status="succeeded")
        assert [r.id for r in done] == [run_id]
        assert await repos.runs.list_runs(s, tenant_id=tenant, kind="optimizer", status="queued") == []


async def test_failure_keeps_error_and_traceback(db: Database, tenant: uuid.UUID) -> None:
    run_id = await _run(db, tenant, "evaluation")
    await _move(db, tenant, "evaluation", run_id, "running")
    await _move(
        db,
        tenant,
        "evaluation",
        run_id,
        "failed",
        error="LMError: boom",
        traceback="Traceback (most recent call last): ...",
    )
    async with db.transaction() as s:
        run = await repos.runs.get_run(s, tenant_id=tenant, kind="evaluation", run_id=run_id)
        assert run.error == "LMError: boom" and run.traceback is not None and "Traceback" in run.traceback


async def test_concurrent_claims_only_one_wins(db: Database, tenant: uuid.UUID) -> None:
    """Two workers both see the run queued; the compare-and-set lets only the first move it."""
    run_id = await _run(db, tenant, "optimizer")
    async with db.sessions() as first, db.sessions() as second, second.begin():
        stale = await repos.runs.get_run(second, tenant_id=tenant, kind="optimizer", run_id=run_id)
        assert stale.status == "queued"  # second's view, kept in its identity map
        async with first.begin():
            await repos.runs.transition(
                first, tenant_id=tenant, actor="w1", kind="optimizer", run_id=run_id, to="running"
            )
        with pytest.raises(IllegalTransitionError) as info:
            await repos.runs.transition(
                second, tenant_id=tenant, actor="w2", kind="optimizer", run_id=run_id, to="running"
            )
        assert info.value.current == "running"
    async with db.transaction() as s:
        events = await repos.audit.list_events(s, tenant_id=tenant, resource_id=run_id)
        assert [(e.actor, e.action) for e in events] == [("t", "create"), ("w1", "running")]


async def test_evaluation_results(db: Database, tenant: uuid.UUID) -> None:
    run_id = await _run(db, tenant, "evaluation")
    async with db.transaction() as s:
        n = await repos.evaluations.add_results(
            s,
            tenant_id=tenant,
            actor="worker",
            run_id=run_id,
            results=[
                {"position": 0, "prediction": {"answer": "Paris"}, "score": 1.0},
                {"position": 1, "prediction": {"answer": "Rome"}, "score": 0.0},
                {"position": 2, "error": "AdapterParseError: ..."},
            ],
        )
        assert n == 3
        summary = await repos.evaluations.summarize(s, tenant_id=tenant, run_id=run_id)
        results = await repos.evaluations.list_results(s, tenant_id=tenant, run_id=run_id)
    assert summary == {"count": 3, "mean_score": 0.5, "errors": 1}
    assert [r.prediction for r in results] == [{"answer": "Paris"}, {"answer": "Rome"}, None]
