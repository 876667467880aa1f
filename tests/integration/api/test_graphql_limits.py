"""Hostile GraphQL documents get a clear error and change nothing: deep nesting, many aliases (also
through fragment spreads), cyclic fragments, huge documents, huge bodies. Introspection stays allowed."""

from __future__ import annotations

from typing import Any

from api_helpers import TenantKeys
from graphql_helpers import GraphQLClient

from dspy_ash.api._graphql import GraphQLSettings

LIMITS = GraphQLSettings()


async def _programs(gql: GraphQLClient, acme: TenantKeys) -> list[str]:
    result = await gql("{ programs { nodes { name } } }", tenant=acme)
    return [p["name"] for p in result["data"]["programs"]["nodes"]]


def _refused(result: dict[str, Any], *fragments: str) -> None:
    """Refused before execution (no data at all), with an error naming one of `fragments`."""
    assert result.get("data") is None, result
    messages = [error["message"] for error in result["errors"]]
    assert any(f in m for f in fragments for m in messages), messages
    codes = {error["extensions"]["code"] for error in result["errors"]}
    assert codes <= {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"}, result


async def test_deep_nesting_is_refused(gql: GraphQLClient, acme: TenantKeys) -> None:
    inner = "id"
    for _ in range(LIMITS.max_depth):
        inner = f"versions {{ nodes {{ program {{ {inner} }} }} }}"
    _refused(
        await gql(f"{{ programs {{ nodes {{ {inner} }} }} }}", tenant=acme), "exceeds maximum operation depth"
    )
    fine = "{ programs { edges { node { versions { edges { node { program { name } } } } } } } }"
    assert "errors" not in await gql(fine, tenant=acme)


async def test_many_aliases_are_refused_before_anything_runs(gql: GraphQLClient, acme: TenantKeys) -> None:
    thousand = " ".join(f"a{i}: tenant {{ id }}" for i in range(1000))
    _refused(await gql(f"{{ {thousand} }}", tenant=acme), "aliases found", "tokens")
    reads = " ".join(f"a{i}: tenant {{ id }}" for i in range(200))  # under the token limit
    _refused(await gql(f"{{ {reads} }}", tenant=acme), "aliases found")
    writes = " ".join(f'm{i}: createProgram(name: "n{i}", source: "a.b:C") {{ id }}' for i in range(100))
    _refused(await gql(f"mutation {{ {writes} }}", tenant=acme), "aliases found")
    assert await _programs(gql, acme) == []  # none of the aliased mutations ran


async def test_aliases_through_fragment_spreads_are_counted(gql: GraphQLClient, acme: TenantKeys) -> None:
    # each spread of F brings its aliases again: 15 x (1 + 2) aliases, though the text names only 17
    fragment = "fragment F on Query { x: tenant { id } y: tenant { name } }"
    spreads = " ".join(f"s{i}: __typename ...F" for i in range(15))
    _refused(await gql(f"{{ {spreads} }} {fragment}", tenant=acme), "aliases found")
    nested = "fragment G on Query { ...F ...F ...F ...F ...F ...F ...F ...F ...F ...F ...F ...F ...F ...F ...F ...F }"
    _refused(await gql(f"{{ ...G }} {nested} {fragment}", tenant=acme), "aliases found")
    # as a mutation's fragment too, where a bypass would create programs
    mutating = 'fragment M on Mutation { a: createProgram(name: "m", source: "a.b:C") { id } }'
    spreads_m = " ".join("...M" for _ in range(LIMITS.max_aliases + 1))
    _refused(await gql(f"mutation {{ {spreads_m} }} {mutating}", tenant=acme), "aliases found")
    assert await _programs(gql, acme) == []


async def test_cyclic_fragments_are_refused_without_recursing(gql: GraphQLClient, acme: TenantKeys) -> None:
    cyclic = """{ programs { nodes { ...A } } }
      fragment A on Program { versions { nodes { program { ...B } } } }
      fragment B on Program { versions { nodes { program { ...A } } } }"""
    result = await gql(cyclic, tenant=acme)
    _refused(result, "")  # refused, and answered: no RecursionError from the depth limiter
    assert any("A" in e["message"] and "itself" in e["message"] for e in result["errors"]), result


async def test_huge_documents_and_bodies(gql: GraphQLClient, acme: TenantKeys) -> None:
    fields = " ".join("__typename" for _ in range(LIMITS.max_tokens + 10))
    too_long = await gql(f"{{ {fields} }}", tenant=acme)
    _refused(too_long, "tokens")
    assert too_long["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    huge = "{ tenant { id } }" + " " * 100_000  # over the app's body limit (64 KiB in these tests)
    response = await gql.raw(huge, tenant=acme, role="admin")
    assert response.status_code == 413
    assert response.json()["type"] == "urn:dspy-ash:problem:too-large"


async def test_introspection_stays_allowed(gql: GraphQLClient, acme: TenantKeys) -> None:
    result = await gql("{ __schema { queryType { name } mutationType { name } subscriptionType { name } } }")
    assert result["data"]["__schema"] == {
        "queryType": {"name": "Query"},
        "mutationType": {"name": "Mutation"},
        "subscriptionType": {"name": "Subscription"},
    }
