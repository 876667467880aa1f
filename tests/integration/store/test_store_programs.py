"""Programs, immutable versions with provenance, the best-version query, diffs and module rows."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError
from store_helpers import program_state

from dspy_ash.programs import instantiate, validate_spec
from dspy_ash.store import ConflictError, Database, InvalidSpecError, NotFoundError, repos
from dspy_ash.store._hashing import state_hash
from dspy_ash.store.models import ProgramVersion

SPEC = {
    "inputs": ["question"],
    "steps": [{"type": "chain_of_thought", "id": "answer", "signature": "question -> answer"}],
    "outputs": {"answer": "answer.answer"},
}


async def test_code_and_declarative_programs(db: Database, tenant: uuid.UUID) -> None:
    async with db.transaction() as s:
        code = await repos.programs.create_program(
            s, tenant_id=tenant, actor="t", name="qa", source="myapp.qa:QA"
        )
        decl = await repos.programs.create_program(s, tenant_id=tenant, actor="t", name="cot", spec=SPEC)
    assert (code.kind, decl.kind) == ("code", "declarative")
    assert decl.spec is not None and decl.spec["steps"][0]["type"] == "chain_of_thought"
    async with db.transaction() as s:
        names = [p.name for p in await repos.programs.list_programs(s, tenant_id=tenant)]
        assert names == ["cot", "qa"]
        with pytest.raises(ConflictError):
            await repos.programs.create_program(s, tenant_id=tenant, actor="t", name="qa", source="x.y:Z")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"source": "not an import path"},
        {"source": "os:system; rm -rf /"},
        {},
        {"source": "a.b:C", "spec": SPEC},
    ],
)
async def test_bad_programs_are_rejected(db: Database, tenant: uuid.UUID, kwargs: dict[str, object]) -> None:
    async with db.transaction() as s:
        with pytest.raises(InvalidSpecError):
            await repos.programs.create_program(s, tenant_id=tenant, actor="t", name="bad", **kwargs)  # type: ignore[arg-type]


async def _program(db: Database, tenant: uuid.UUID) -> uuid.UUID:
    async with db.transaction() as s:
        return (
            await repos.programs.create_program(s, tenant_id=tenant, actor="t", name="qa", source="a.b:C")
        ).id


async def test_versions_keep_the_state_verbatim_with_provenance(db: Database, tenant: uuid.UUID) -> None:
    program_id = await _program(db, tenant)
    state = program_state()
    async with db.transaction() as s:
        dataset = await repos.datasets.create_dataset(
            s, tenant_id=tenant, actor="t", name="d", records=[{"question": "q", "answer": "a"}]
        )
        run = await repos.runs.create_optimizer_run(
            s,
            tenant_id=tenant,
            actor="t",
            program_id=program_id,
            optimizer="BootstrapFewShot",
            dataset_id=dataset.id,
        )
        v1 = await repos.versions.create_version(
            s, tenant_id=tenant, actor="t", program_id=program_id, state=state
        )
        v2 = await repos.versions.create_version(
            s,
            tenant_id=tenant,
            actor="t",
            program_id=program_id,
            parent_id=v1.id,
            optimizer_run_id=run.id,
            dataset_id=dataset.id,
            metric="exact_match",
            score=0.8,
            scores={"dev": 0.8},
            state=program_state(demos=[{"question": "q", "answer": "a", "augmented": True}]),
            module_types={"qa.predict": "chain_of_thought"},
        )
        v3 = await repos.versions.create_version(
            s,
            tenant_id=tenant,
            actor="t",
            program_id=program_id,
            parent_id=v2.id,
            metric="exact_match",
            score=0.6,
            state=program_state("Answer briefly."),
        )
    assert (v1.number, v2.number, v3.number) == (1, 2, 3)
    assert v2.dataset_hash == dataset.content_hash

    async with db.transaction() as s:
        stored = await repos.versions.get_version(s, tenant_id=tenant, version_id=v1.id)
        assert stored.state == state  # DSPy's JSON shape, verbatim, metadata included
        assert list(stored.state) == ["rewrite", "qa.predict", "metadata"]
        best = await repos.versions.best_version(s, tenant_id=tenant, program_id=program_id)
        assert best is not None
        assert best.version.id == v2.id and best.version.parent_id == v1.id
        assert best.run is not None and best.run.optimizer == "BootstrapFewShot"
        assert best.dataset is not None and best.dataset.name == "d"
        modules = await repos.versions.list_modules(s, tenant_id=tenant, version_id=v2.id)
        assert [(m.name, m.type) for m in modules] == [
            ("qa.predict", "chain_of_thought"),
            ("rewrite", "predict"),
        ]
        assert (
            await repos.versions.best_version(s, tenant_id=tenant, program_id=program_id, metric="f1") is None
        )


async def test_content_hash_ignores_library_versions(db: Database, tenant: uuid.UUID) -> None:
    program_id = await _program(db, tenant)
    async with db.transaction() as s:
        a = await repos.versions.create_version(
            s, tenant_id=tenant, actor="t", program_id=program_id, state=program_state(python="3.11")
        )
        b = await repos.versions.create_version(
            s, tenant_id=tenant, actor="t", program_id=program_id, state=program_state(python="3.12")
        )
        c = await repos.versions.create_version(
            s, tenant_id=tenant, actor="t", program_id=program_id, state=program_state("Other instructions.")
        )
    assert a.content_hash == b.content_hash == state_hash(program_state()) != c.content_hash


async def test_versions_are_immutable_in_the_database(db: Database, tenant: uuid.UUID) -> None:
    program_id = await _program(db, tenant)
    async with db.transaction() as s:
        v = await repos.versions.create_version(
            s, tenant_id=tenant, actor="t", program_id=program_id, state=program_state(), score=0.5
        )
    with pytest.raises(DBAPIError, match="immutable"):
        async with db.transaction() as s:
            await s.execute(update(ProgramVersion).where(ProgramVersion.id == v.id).values(score=0.99))
    async with db.transaction() as s:
        assert (await repos.versions.get_version(s, tenant_id=tenant, version_id=v.id)).score == 0.5


async def test_diff_versions(db: Database, tenant: uuid.UUID) -> None:
    program_id = await _program(db, tenant)
    demo_a = {"question": "Capital of Italy?", "answer": "Rome"}
    demo_b = {"augmented": True, "question": "q", "answer": "Paris"}
    async with db.transaction() as s:
        old = await repos.versions.create_version(
            s,
            tenant_id=tenant,
            actor="t",
            program_id=program_id,
            state=program_state(demos=[demo_a]),
            score=0.4,
        )
        new = await repos.versions.create_version(
            s,
            tenant_id=tenant,
            actor="t",
            program_id=program_id,
            state=program_state("Answer tersely.", demos=[demo_b]),
            score=0.7,
        )
        diff = await repos.versions.diff_versions(s, tenant_id=tenant, old_id=old.id, new_id=new.id)
    assert diff["score"] == {"old": 0.4, "new": 0.7}
    assert list(diff["predictors"]) == ["qa.predict"]  # `rewrite` and `metadata` did not change
    change = diff["predictors"]["qa.predict"]
    assert change["instructions"] == {"old": "Answer the question.", "new": "Answer tersely."}
    assert change["demos"] == {"added": [demo_b], "removed": [demo_a]}
    assert "lm" not in change


async def test_version_links_must_be_in_the_same_tenant(
    db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID
) -> None:
    mine = await _program(db, tenant)
    theirs = await _program(db, other_tenant)
    async with db.transaction() as s:
        their_version = await repos.versions.create_version(
            s, tenant_id=other_tenant, actor="t", program_id=theirs, state=program_state()
        )
    async with db.transaction() as s:
        with pytest.raises(NotFoundError):
            await repos.versions.create_version(
                s,
                tenant_id=tenant,
                actor="t",
                program_id=mine,
                parent_id=their_version.id,
                state=program_state(),
            )
        with pytest.raises(NotFoundError):
            await repos.versions.create_version(
                s, tenant_id=tenant, actor="t", program_id=theirs, state=program_state()
            )


async def test_stored_programs_instantiate_with_a_versions_state(db: Database, tenant: uuid.UUID) -> None:
    """A code program imports its class; a stored version's state (DSPy's shape) loads into it."""
    demo = {"question": "Capital of Italy?", "answer": "Rome"}
    async with db.transaction() as s:
        code = await repos.programs.create_program(
            s, tenant_id=tenant, actor="t", name="qa", source="store_helpers:QA"
        )
        spec = validate_spec(SPEC).model_dump(mode="json")
        decl = await repos.programs.create_program(s, tenant_id=tenant, actor="t", name="cot", spec=spec)
        version = await repos.versions.create_version(
            s, tenant_id=tenant, actor="t", program_id=code.id, state=program_state("Answer tersely.", [demo])
        )
    module = instantiate(code, state=version.state)
    assert module.qa.predict.demos == [demo]
    assert module.qa.predict.signature.instructions == "Answer tersely."
    built = instantiate(decl)
    assert [name for name, _ in built.named_predictors()] == ["answer.predict"]
