"""GraphQL queries and mutations over the actions: relations, connections, audit, tenancy, roles, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import TenantKeys
from graphql_helpers import GraphQLClient, codes

from dspy_ash.actions import Services
from dspy_ash.api import create_app
from dspy_ash.store import Database

STATE = json.loads((Path(__file__).parents[2] / "fixtures" / "program_state.json").read_text())

CREATE = """mutation($name: String!, $description: String! = "") {
  createProgram(name: $name, source: "myapp.qa:QA", description: $description) { id name kind }
}"""
IMPORT = """mutation($p: UUID!, $state: JSON!) {
  importVersion(programId: $p, state: $state) { id number state }
}"""


async def _program(gql: GraphQLClient, acme: TenantKeys, name: str, versions: int = 0) -> str:
    created = await gql(CREATE, {"name": name}, tenant=acme, role="editor")
    assert "errors" not in created, created
    program_id = created["data"]["createProgram"]["id"]
    for _ in range(versions):
        imported = await gql(IMPORT, {"p": program_id, "state": STATE}, tenant=acme, role="editor")
        assert "errors" not in imported, imported
    return program_id


async def test_program_with_versions_and_back(gql: GraphQLClient, acme: TenantKeys) -> None:
    program_id = await _program(gql, acme, "qa", versions=3)
    query = """query($id: UUID!) { program(id: $id) {
        name kind
        versions(first: 2) { edges { cursor node { number program { id name } } }
                             pageInfo { hasNextPage endCursor } }
    } }"""
    result = await gql(query, {"id": program_id}, tenant=acme, role="viewer")
    program = result["data"]["program"]
    assert program["name"] == "qa" and program["kind"] == "code"
    edges = program["versions"]["edges"]
    assert [e["node"]["number"] for e in edges] == [1, 2]
    assert {e["node"]["program"]["id"] for e in edges} == {program_id}
    info = program["versions"]["pageInfo"]
    assert info["hasNextPage"] is True and edges[-1]["cursor"] == info["endCursor"]
    rest = """query($id: UUID!, $after: String!) { program(id: $id) {
        versions(first: 2, after: $after) { nodes { number } pageInfo { hasNextPage endCursor } } } }"""
    more = await gql(rest, {"id": program_id, "after": info["endCursor"]}, tenant=acme)
    versions = more["data"]["program"]["versions"]
    assert versions["nodes"] == [{"number": 3}] and versions["pageInfo"]["hasNextPage"] is False
    bad = await gql(rest, {"id": program_id, "after": "nonsense"}, tenant=acme)
    assert codes(bad) == ["BAD_USER_INPUT"]


async def test_programs_connection_pages_without_repeats(gql: GraphQLClient, acme: TenantKeys) -> None:
    names = [f"p{i:02d}" for i in range(7)]
    for name in reversed(names):
        await _program(gql, acme, name)
    query = """query($after: String) { programs(first: 3, after: $after, sort: "name") {
        edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }"""
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        page = (await gql(query, {"after": after}, tenant=acme, role="viewer"))["data"]["programs"]
        seen += [edge["node"]["name"] for edge in page["edges"]]
        pages += 1
        after = page["pageInfo"]["endCursor"]
        assert page["pageInfo"]["hasNextPage"] is (after is not None)
        if after is None:
            break
    assert seen == names and pages == 3
    too_big = await gql("{ programs(first: 10000) { nodes { id } } }", tenant=acme)
    assert codes(too_big) == ["BAD_USER_INPUT"]
    assert too_big["errors"][0]["extensions"]["fields"][0]["field"] == "limit"


async def test_mutations_are_audited(gql: GraphQLClient, acme: TenantKeys) -> None:
    program_id = await _program(gql, acme, "qa")
    update = """mutation($id: UUID!) { updateProgram(id: $id, description: "second") { description } }"""
    assert (await gql(update, {"id": program_id}, tenant=acme, role="editor"))["data"]
    deleted = await gql("mutation($id: UUID!) { deleteProgram(id: $id) { id deleted } }", {"id": program_id},
                        tenant=acme, role="editor")  # fmt: skip
    assert deleted["data"]["deleteProgram"] == {"id": program_id, "deleted": True}
    gone = await gql("query($id: UUID!) { program(id: $id) { id } }", {"id": program_id}, tenant=acme)
    assert codes(gone) == ["NOT_FOUND"] and gone["data"] is None
    assert gone["errors"][0]["extensions"]["type"] == "urn:dspy-ash:problem:not-found"
    trail = """query($id: UUID!) { auditEvents(resourceId: $id) { nodes { action actor before after } } }"""
    events = (await gql(trail, {"id": program_id}, tenant=acme))["data"]["auditEvents"]["nodes"]
    assert [e["action"] for e in events] == ["delete", "update", "create"]  # newest first
    assert events[1]["before"]["description"] == "" and events[1]["after"]["description"] == "second"
    assert all(e["actor"].startswith("api_key:") for e in events)


async def test_api_keys_tenant_and_roles(gql: GraphQLClient, acme: TenantKeys) -> None:
    create = """mutation { createApiKey(name: "ci", role: "editor") { id key display role } }"""
    assert codes(await gql(create, tenant=acme, role="editor")) == ["FORBIDDEN"]
    created = (await gql(create, tenant=acme))["data"]["createApiKey"]
    assert created["key"].startswith(created["display"].rstrip("…")) and created["role"] == "editor"
    revoke = """mutation($id: UUID!) { revokeApiKey(id: $id) { revokedAt } }"""
    assert (await gql(revoke, {"id": created["id"]}, tenant=acme))["data"]["revokeApiKey"]["revokedAt"]
    listed = (await gql("{ apiKeys { nodes { name } } }", tenant=acme))["data"]["apiKeys"]["nodes"]
    assert "ci" in [k["name"] for k in listed] and "key" not in listed[0]
    tenant = (await gql("{ tenant { id name } }", tenant=acme, role="viewer"))["data"]["tenant"]
    assert tenant["id"] == str(acme.tenant_id)
    refused = await gql("{ tenant { id } }", {}, tenant=None)
    assert codes(refused) == ["UNAUTHENTICATED"]
    headers = {"Authorization": f"Bearer {created['key']}"}
    revoked = await gql.http.post("http://test/graphql", json={"query": "{ tenant { id } }"}, headers=headers)
    assert [e["extensions"]["code"] for e in revoked.json()["errors"]] == ["UNAUTHENTICATED"]


async def test_viewer_cannot_mutate_and_nothing_changes(gql: GraphQLClient, acme: TenantKeys) -> None:
    program_id = await _program(gql, acme, "qa")
    attempts: list[tuple[str, dict[str, Any]]] = [
        (CREATE, {"name": "new"}),
        ("""mutation($id: UUID!) { updateProgram(id: $id, description: "x") { id } }""", {"id": program_id}),
        ("mutation($id: UUID!) { deleteProgram(id: $id) { id } }", {"id": program_id}),
        (IMPORT, {"p": program_id, "state": STATE}),
    ]
    for query, variables in attempts:
        result = await gql(query, variables, tenant=acme, role="viewer")
        assert codes(result) == ["FORBIDDEN"], result
    listed = await gql("{ programs { nodes { name description versions { nodes { id } } } } }", tenant=acme)
    assert listed["data"]["programs"]["nodes"] == [
        {"name": "qa", "description": "", "versions": {"nodes": []}}
    ]


async def test_another_tenants_ids_are_not_found(
    gql: GraphQLClient, acme: TenantKeys, globex: TenantKeys
) -> None:
    program_id = await _program(gql, acme, "secret", versions=1)
    version_id = (await gql("query($id: UUID!) { program(id: $id) { versions { nodes { id } } } }",
                            {"id": program_id}, tenant=acme))["data"]["program"]["versions"]["nodes"][0]["id"]  # fmt: skip
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("query($id: UUID!) { program(id: $id) { id } }", {"id": program_id}),
        (
            "query($p: UUID!, $v: UUID!) { version(programId: $p, id: $v) { id } }",
            {"p": program_id, "v": version_id},
        ),
        ("""mutation($id: UUID!) { updateProgram(id: $id, description: "x") { id } }""", {"id": program_id}),
        ("mutation($id: UUID!) { deleteProgram(id: $id) { id } }", {"id": program_id}),
        (IMPORT, {"p": program_id, "state": STATE}),
    ]
    for query, variables in attempts:
        result = await gql(query, variables, tenant=globex)
        assert codes(result) == ["NOT_FOUND"], result
        assert str(acme.tenant_id) not in json.dumps(result)
    assert (await gql("{ programs { nodes { id } } }", tenant=globex))["data"]["programs"]["nodes"] == []
    still = await gql("query($id: UUID!) { program(id: $id) { description versions { nodes { number } } } }",
                      {"id": program_id}, tenant=acme)  # fmt: skip
    assert still["data"]["program"] == {"description": "", "versions": {"nodes": [{"number": 1}]}}


async def test_bad_input_and_conflicts(gql: GraphQLClient, acme: TenantKeys) -> None:
    neither = await gql("""mutation { createProgram(name: "x") { id } }""", tenant=acme)
    assert codes(neither) == ["BAD_USER_INPUT"]
    assert neither["errors"][0]["extensions"]["status"] == 422
    await _program(gql, acme, "dup")
    again = await gql(CREATE, {"name": "dup"}, tenant=acme)
    assert codes(again) == ["CONFLICT"]
    not_uuid = await gql("""{ program(id: "not-a-uuid") { id } }""", tenant=acme)
    assert not_uuid["errors"] and not_uuid["data"] is None
    names = (await gql("{ programs { nodes { name } } }", tenant=acme))["data"]["programs"]["nodes"]
    assert names == [{"name": "dup"}]


async def test_unexpected_errors_are_masked_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = Database(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")  # cannot be opened
    app = create_app(services=Services(db=broken))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            headers = {"Authorization": "Bearer dak_" + "x" * 43}
            response = await http.post(
                "http://test/graphql", json={"query": "{ tenant { id } }"}, headers=headers
            )
    finally:
        await broken.dispose()
    errors = response.json()["errors"]
    assert [e["message"] for e in errors] == ["the server failed; see its log"]
    assert "missing" not in response.text and "sqlite" not in response.text.lower()
    assert any(r.name == "dspy_ash.api.graphql" and r.exc_info for r in caplog.records)


async def test_get_serves_queries_but_never_mutations(gql: GraphQLClient, acme: TenantKeys) -> None:
    url = "http://test/graphql"
    read = await gql.http.get(url, params={"query": "{ tenant { id } }"}, headers=acme.auth("viewer"))
    assert read.json()["data"]["tenant"]["id"] == str(acme.tenant_id)
    write = """mutation { createProgram(name: "via-get", source: "a.b:C") { id } }"""
    refused = await gql.http.get(url, params={"query": write}, headers=acme.auth())
    assert refused.status_code == 400
    assert (await gql("{ programs { nodes { id } } }", tenant=acme))["data"]["programs"]["nodes"] == []
    openapi = (await gql.http.get("http://test/openapi.json")).json()
    assert not any(path.startswith("/graphql") for path in openapi["paths"])  # GraphQL documents itself


DECLARATIVE = {
    "inputs": ["question"],
    "steps": [{"type": "predict", "id": "answer", "signature": "question -> answer"}],
    "outputs": {"answer": "answer.answer"},
}


async def test_runs_datasets_metrics_and_configs(
    gql: GraphQLClient, acme: TenantKeys, globex: TenantKeys
) -> None:
    made = await gql(
        'mutation($spec: JSON!) { createProgram(name: "qa", spec: $spec) { id } }', {"spec": DECLARATIVE},
        tenant=acme, role="editor",
    )  # fmt: skip
    program_id = made["data"]["createProgram"]["id"]
    queue = """mutation($p: UUID!) { createEvaluationRun(programId: $p, metric: "exact_match") {
        id status metric progress } }"""
    denied = await gql(queue, {"p": program_id}, tenant=acme, role="viewer")
    assert codes(denied) == ["FORBIDDEN"]
    queued = await gql(queue, {"p": program_id}, tenant=acme, role="editor")
    run = queued["data"]["createEvaluationRun"]
    assert run["status"] == "queued" and run["metric"] == "exact_match" and run["progress"] == 0.0
    listed = await gql(
        """query($p: UUID!) { evaluationRuns(programId: $p) { nodes { id status } }
            optimizerRuns { nodes { id } } datasets { nodes { id } } metrics { nodes { id } }
            optimizerConfigs { nodes { id } } }""",
        {"p": program_id}, tenant=acme, role="viewer",
    )  # fmt: skip
    data = listed["data"]
    assert data["evaluationRuns"]["nodes"] == [{"id": run["id"], "status": "queued"}]
    assert data["optimizerRuns"]["nodes"] == [] and data["datasets"]["nodes"] == []
    cancelled = await gql(
        "mutation($id: UUID!) { cancelEvaluationRun(id: $id) { status } }", {"id": run["id"]},
        tenant=acme, role="editor",
    )  # fmt: skip
    assert cancelled["data"]["cancelEvaluationRun"]["status"] == "cancelled"
    again = await gql(
        "mutation($id: UUID!) { cancelEvaluationRun(id: $id) { status } }", {"id": run["id"]},
        tenant=acme, role="editor",
    )  # fmt: skip
    assert codes(again) == ["CONFLICT"]  # the state machine refuses a second cancel
    theirs = await gql(
        "query($id: UUID!) { evaluationRun(id: $id) { id } }", {"id": run["id"]}, tenant=globex
    )
    assert codes(theirs) == ["NOT_FOUND"]
