"""DataLoaders: a page of programs with their versions (and each version's program) costs the same SQL
statements for 5 programs as for 50; the caller is authenticated once per request, not once per field."""

from __future__ import annotations

import json
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from api_helpers import TenantKeys, make_tenant
from graphql_helpers import GraphQLClient, codes
from sqlalchemy import event

from dspy_ash.actions import Services, ServiceSettings
from dspy_ash.api import create_app
from dspy_ash.store import Database, repos

STATE = json.loads((Path(__file__).parents[2] / "fixtures" / "program_state.json").read_text())

PAGE = """query($first: Int!) { programs(first: $first, sort: "name") {
  edges { node { name versions(first: 5) {
    edges { node { number program { name } } } pageInfo { hasNextPage } } } } } }"""


@contextmanager
def counting(services: Services) -> Generator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def _programs(services: Services, tenant: TenantKeys, count: int) -> None:
    async with services.db.transaction() as s:
        for i in range(count):
            program = await repos.programs.create_program(
                s, tenant_id=tenant.tenant_id, actor="test", name=f"p{i:03d}", source="a.b:C"
            )
            await s.flush()
            for _ in range(2):
                await repos.versions.create_version(
                    s, tenant_id=tenant.tenant_id, actor="test", program_id=program.id, state=STATE
                )


async def test_statements_do_not_grow_with_the_page(gql: GraphQLClient, services: Services) -> None:
    counts: dict[int, int] = {}
    for size in (5, 50):
        tenant = await make_tenant(services)
        await _programs(services, tenant, size)
        with counting(services) as statements:
            result = await gql(PAGE, {"first": size}, tenant=tenant, role="viewer")
        assert "errors" not in result, result
        edges = result["data"]["programs"]["edges"]
        assert len(edges) == size
        assert all([v["node"]["number"] for v in e["node"]["versions"]["edges"]] == [1, 2] for e in edges)
        assert all(v["node"]["program"]["name"] == e["node"]["name"]
                   for e in edges for v in e["node"]["versions"]["edges"])  # fmt: skip
        counts[size] = len(statements)
    assert counts[5] == counts[50], counts
    assert counts[50] <= 8, counts  # authentication, the page, one batch of versions, one of programs


async def test_the_caller_is_authenticated_once_per_request(database_url: str) -> None:
    db = Database(database_url)
    services = Services(db=db, settings=ServiceSettings(rate_limit_per_minute=2))
    try:
        tenant = await make_tenant(services)
        await _programs(services, tenant, 3)
        app = create_app(services=services)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            gql = GraphQLClient(http)
            many = "{ a: tenant { id } b: tenant { id } programs { nodes { versions { nodes { id } } } } }"
            for _ in range(
                2
            ):  # each request spends one of the key's two requests a minute, however many fields
                assert "errors" not in await gql(many, tenant=tenant), "a field spent its own request"
            refused = await gql(many, tenant=tenant)
            assert set(codes(refused)) == {"RATE_LIMITED"}
            assert refused["errors"][0]["extensions"]["retryAfter"] > 0
    finally:
        await db.dispose()
