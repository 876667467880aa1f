"""Batched reads for pages of parents: several programs by id, and the first versions of several programs
in one windowed query (per program, after a number), tenant-scoped."""

from __future__ import annotations

import uuid

from store_helpers import program_state

from dspy_ash.store import Database, repos


async def _programs(db: Database, tenant: uuid.UUID, versions: list[int]) -> list[uuid.UUID]:
    ids: list[uuid.UUID] = []
    async with db.transaction() as s:
        for i, count in enumerate(versions):
            program = await repos.programs.create_program(
                s, tenant_id=tenant, actor="test", name=f"p{i}", source="a.b:C"
            )
            await s.flush()
            for _ in range(count):
                await repos.versions.create_version(
                    s, tenant_id=tenant, actor="test", program_id=program.id, state=program_state()
                )
            ids.append(program.id)
    return ids


async def test_list_first_versions_of_several_programs(
    db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID
) -> None:
    a, b, c = await _programs(db, tenant, [4, 1, 0])
    async with db.transaction() as s:
        rows = await repos.versions.list_first_versions_of(
            s, tenant_id=tenant, program_ids=[a, b, c], per_program=2
        )
        assert [(r.program_id, r.number) for r in rows] == sorted([(a, 1), (a, 2), (b, 1)])
        later = await repos.versions.list_first_versions_of(
            s, tenant_id=tenant, program_ids=[a, b], per_program=2, after_number=2
        )
        assert [(r.program_id, r.number) for r in later] == [(a, 3), (a, 4)]
        foreign = await repos.versions.list_first_versions_of(
            s, tenant_id=other_tenant, program_ids=[a, b], per_program=5
        )
        assert foreign == []
        assert (
            await repos.versions.list_first_versions_of(s, tenant_id=tenant, program_ids=[], per_program=5)
            == []
        )


async def test_get_programs_skips_other_tenants(
    db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID
) -> None:
    mine = await _programs(db, tenant, [0, 0])
    async with db.transaction() as s:
        found = await repos.programs.get_programs(s, tenant_id=tenant, program_ids=[*mine, uuid.uuid4()])
        assert sorted(p.id for p in found) == sorted(mine)
        assert await repos.programs.get_programs(s, tenant_id=other_tenant, program_ids=mine) == []
        assert await repos.programs.get_programs(s, tenant_id=tenant, program_ids=[]) == []
