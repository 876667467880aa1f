"""No GraphQL field bypasses the registry: every root field names the actions it calls, every name is an
action, `call` refuses any other, and every GraphQL type mirrors its action output field for field. The
batch actions behind the loaders keep their policy (read scopes, tenant-scoped)."""

from __future__ import annotations

import uuid

import pytest
from api_helpers import TenantKeys
from strawberry.types.base import get_object_definition
from strawberry.utils.str_converters import to_camel_case

from dspy_ash.actions import REGISTRY, Services, UnauthenticatedError, authenticate_key, invoke
from dspy_ash.actions._batches import ProgramBatch, VersionGroups
from dspy_ash.api._graphql import (
    FIELD_ACTIONS,
    MIRRORS,
    GraphQLContext,
    GraphQLSettings,
    build_schema,
    plain_fields,
)
from dspy_ash.store import repos

SCHEMA = build_schema(GraphQLSettings())


def _root_fields() -> set[str]:
    names: set[str] = set()
    for root in ("Query", "Mutation", "Subscription"):
        graphql_type = SCHEMA._schema.get_type(root)  # pyright: ignore[reportPrivateUsage]
        assert graphql_type is not None
        names |= {f"{root}.{field}" for field in graphql_type.fields}  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]
    return names


def test_every_root_field_names_its_actions_and_they_exist() -> None:
    roots = _root_fields()
    assert roots == {
        key for key in FIELD_ACTIONS if key.split(".")[0] in ("Query", "Mutation", "Subscription")
    }
    for field, names in FIELD_ACTIONS.items():
        assert names, field
        for name in names:
            assert name in REGISTRY, f"{field} names {name!r}, which is no action"
    relations = {key for key in FIELD_ACTIONS if key not in roots}
    for relation in relations:
        type_name, field_name = relation.split(".")
        graphql_type = SCHEMA._schema.get_type(type_name)  # pyright: ignore[reportPrivateUsage]
        assert graphql_type is not None and field_name in graphql_type.fields, relation  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]


def test_every_mutation_field_calls_an_action_that_changes_something() -> None:
    for field, names in FIELD_ACTIONS.items():
        if field.startswith("Mutation."):
            assert all(REGISTRY[name].changes for name in names), field
        else:
            assert not any(REGISTRY[name].changes for name in names), field


def test_types_mirror_the_action_outputs() -> None:
    assert MIRRORS
    for graphql_type, (public, resolved) in MIRRORS.items():
        data = set(plain_fields(graphql_type))
        model = set(public.model_fields)
        assert data <= model, f"{graphql_type.__name__} has fields its action does not return: {data - model}"
        assert model - resolved == data, f"{graphql_type.__name__} misses {model - resolved - data}"
        definition = get_object_definition(graphql_type, strict=True)
        for name in resolved:
            resolvers = {f.python_name for f in definition.fields if f.base_resolver is not None}
            assert name in resolvers, (
                f"{graphql_type.__name__}.{to_camel_case(name)} is neither data nor resolved"
            )


async def test_call_refuses_an_action_no_field_names(services: Services) -> None:
    context = GraphQLContext(services, GraphQLSettings(), request_id="r")
    with pytest.raises(LookupError, match="FIELD_ACTIONS"):
        await context.call("programs.delete_everything", {})
    assert "api_keys.list" in REGISTRY  # a real action, but only Query.apiKeys may call it
    assert FIELD_ACTIONS["Query.apiKeys"] == ("api_keys.list",)


async def test_batch_actions_keep_their_policy(
    services: Services, acme: TenantKeys, globex: TenantKeys
) -> None:
    async with services.db.transaction() as s:
        program = await repos.programs.create_program(
            s, tenant_id=acme.tenant_id, actor="test", name="qa", source="a.b:C"
        )
    viewer = await authenticate_key(services, acme.keys["viewer"])
    stranger = await authenticate_key(services, globex.keys["admin"])
    found: ProgramBatch = await invoke(services, "programs.by_ids", viewer, {"program_ids": [program.id]})
    assert [p.id for p in found.items] == [program.id]
    hidden: ProgramBatch = await invoke(services, "programs.by_ids", stranger, {"program_ids": [program.id]})
    assert hidden.items == []
    groups: VersionGroups = await invoke(
        services, "versions.by_programs", stranger, {"program_ids": [program.id]}
    )
    assert [(g.items, g.has_more) for g in groups.groups] == [([], False)]
    with pytest.raises(UnauthenticatedError):
        await invoke(services, "versions.by_programs", None, {"program_ids": []})
    too_many = {"program_ids": [uuid.uuid4() for _ in range(201)]}
    with pytest.raises(ValueError, match="invalid field"):
        await invoke(services, "programs.by_ids", viewer, too_many)
    assert all(
        REGISTRY[name].http is None for name in ("programs.by_ids", "versions.by_programs", "runs.progress")
    )
