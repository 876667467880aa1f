"""The GraphQL schema: every field that reaches the service calls named actions through
`GraphQLContext.call` (`invoke`), never the store; `FIELD_ACTIONS` (_fields.py) names them."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncGenerator

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from dspy_ash.api._graphql._connections import Connection, connection_of, page_arguments
from dspy_ash.api._graphql._errors import ServiceErrors, unexpected
from dspy_ash.api._graphql._limits import GraphQLSettings, limit_extensions
from dspy_ash.api._graphql._types import (
    ApiKeyCreatedNode,
    ApiKeyNode,
    AuditEventNode,
    DatasetNode,
    DeletedNode,
    EvaluationRunNode,
    Info,
    MetricNode,
    OptimizerConfigNode,
    OptimizerRunNode,
    ProgramNode,
    RunProgressNode,
    TenantNode,
    VersionNode,
    mirror,
    of,
)

logger = logging.getLogger("dspy_ash.api.graphql")


@strawberry.type
class Query:
    @strawberry.field(description="The tenant's programs, a page at a time.")
    async def programs(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        sort: str = "created_at",
        kind: str | None = None,
        name: str | None = None,
    ) -> Connection[ProgramNode]:
        payload = {**page_arguments(first, after), "sort": sort, "kind": kind, "name": name}
        return connection_of(await info.context.call("programs.list", payload), of(ProgramNode))

    @strawberry.field
    async def program(self, info: Info, id: uuid.UUID) -> ProgramNode:
        return mirror(ProgramNode, await info.context.call("programs.get", {"program_id": id}))

    @strawberry.field(description="A version with its saved state.")
    async def version(self, info: Info, program_id: uuid.UUID, id: uuid.UUID) -> VersionNode:
        payload = {"program_id": program_id, "version_id": id}
        return mirror(VersionNode, await info.context.call("versions.get", payload))

    @strawberry.field
    async def api_keys(self, info: Info, first: int = 50, after: str | None = None) -> Connection[ApiKeyNode]:
        return connection_of(
            await info.context.call("api_keys.list", page_arguments(first, after)), of(ApiKeyNode)
        )

    @strawberry.field(description="The audit trail, newest first.")
    async def audit_events(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        resource_type: str | None = None,
        resource_id: uuid.UUID | None = None,
        actor: str | None = None,
    ) -> Connection[AuditEventNode]:
        filters = {"resource_type": resource_type, "resource_id": resource_id, "actor": actor}
        payload = {**page_arguments(first, after), **filters}
        return connection_of(await info.context.call("audit.list", payload), of(AuditEventNode))

    @strawberry.field(description="Optimizer runs, newest first.")
    async def optimizer_runs(
        self, info: Info, first: int = 50, after: str | None = None, program_id: uuid.UUID | None = None,
        status: str | None = None,
    ) -> Connection[OptimizerRunNode]:  # fmt: skip
        payload = {**page_arguments(first, after), "program_id": program_id, "status": status}
        return connection_of(await info.context.call("optimizer_runs.list", payload), of(OptimizerRunNode))

    @strawberry.field
    async def optimizer_run(self, info: Info, id: uuid.UUID) -> OptimizerRunNode:
        return mirror(OptimizerRunNode, await info.context.call("optimizer_runs.get", {"run_id": id}))

    @strawberry.field(description="Evaluation runs, newest first.")
    async def evaluation_runs(
        self, info: Info, first: int = 50, after: str | None = None, program_id: uuid.UUID | None = None,
        status: str | None = None,
    ) -> Connection[EvaluationRunNode]:  # fmt: skip
        payload = {**page_arguments(first, after), "program_id": program_id, "status": status}
        return connection_of(await info.context.call("evaluation_runs.list", payload), of(EvaluationRunNode))

    @strawberry.field
    async def evaluation_run(self, info: Info, id: uuid.UUID) -> EvaluationRunNode:
        return mirror(EvaluationRunNode, await info.context.call("evaluation_runs.get", {"run_id": id}))

    @strawberry.field
    async def datasets(
        self, info: Info, first: int = 50, after: str | None = None, name: str | None = None
    ) -> Connection[DatasetNode]:
        payload = {**page_arguments(first, after), "name": name}
        return connection_of(await info.context.call("datasets.list", payload), of(DatasetNode))

    @strawberry.field(description="The tenant's metric definitions.")
    async def metrics(self, info: Info, first: int = 50, after: str | None = None) -> Connection[MetricNode]:
        return connection_of(
            await info.context.call("metrics.list", page_arguments(first, after)), of(MetricNode)
        )

    @strawberry.field(description="The tenant's saved optimizer configurations.")
    async def optimizer_configs(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[OptimizerConfigNode]:
        page = await info.context.call("optimizer_configs.list", page_arguments(first, after))
        return connection_of(page, of(OptimizerConfigNode))

    @strawberry.field(description="The caller's tenant.")
    async def tenant(self, info: Info) -> TenantNode:
        return mirror(TenantNode, await info.context.call("tenant.get", {}))


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Create a code program (`source`) or a declarative one (`spec`).")
    async def create_program(
        self,
        info: Info,
        name: str,
        source: str | None = None,
        spec: strawberry.scalars.JSON | None = None,
        description: str = "",
    ) -> ProgramNode:
        payload = {"name": name, "source": source, "spec": spec, "description": description}
        return mirror(ProgramNode, await info.context.call("programs.create", payload))

    @strawberry.mutation
    async def update_program(
        self,
        info: Info,
        id: uuid.UUID,
        description: str | None = None,
        spec: strawberry.scalars.JSON | None = None,
    ) -> ProgramNode:
        payload = {"program_id": id, "description": description, "spec": spec}
        return mirror(ProgramNode, await info.context.call("programs.update", payload))

    @strawberry.mutation(description="Delete a program with its versions and runs.")
    async def delete_program(self, info: Info, id: uuid.UUID) -> DeletedNode:
        return mirror(DeletedNode, await info.context.call("programs.delete", {"program_id": id}))

    @strawberry.mutation(description="Store a saved program (DSPy's JSON) as the program's next version.")
    async def import_version(
        self,
        info: Info,
        program_id: uuid.UUID,
        state: strawberry.scalars.JSON,
        parent_id: uuid.UUID | None = None,
        note: str = "",
    ) -> VersionNode:
        payload = {"program_id": program_id, "state": state, "parent_id": parent_id, "note": note}
        return mirror(VersionNode, await info.context.call("versions.import", payload))

    @strawberry.mutation(description="Queue a compile of a program with an optimizer (a background run).")
    async def create_optimizer_run(
        self, info: Info, program_id: uuid.UUID, optimizer: str, dataset_id: uuid.UUID | None = None,
        config: strawberry.scalars.JSON | None = None, metric: str | None = None,
        base_version_id: uuid.UUID | None = None,
    ) -> OptimizerRunNode:  # fmt: skip
        payload = {"program_id": program_id, "optimizer": optimizer, "dataset_id": dataset_id,
                   "config": config or {}, "metric": metric, "base_version_id": base_version_id}  # fmt: skip
        return mirror(OptimizerRunNode, await info.context.call("optimizer_runs.create", payload))

    @strawberry.mutation(description="Queue an evaluation of a program (or a version) on a dataset.")
    async def create_evaluation_run(
        self, info: Info, program_id: uuid.UUID, dataset_id: uuid.UUID | None = None,
        version_id: uuid.UUID | None = None, split: str | None = None, metric: str | None = None,
        config: strawberry.scalars.JSON | None = None,
    ) -> EvaluationRunNode:  # fmt: skip
        payload = {"program_id": program_id, "dataset_id": dataset_id, "version_id": version_id,
                   "split": split, "metric": metric, "config": config or {}}  # fmt: skip
        return mirror(EvaluationRunNode, await info.context.call("evaluation_runs.create", payload))

    @strawberry.mutation(description="Cancel a queued or running optimizer run.")
    async def cancel_optimizer_run(self, info: Info, id: uuid.UUID) -> OptimizerRunNode:
        return mirror(OptimizerRunNode, await info.context.call("optimizer_runs.cancel", {"run_id": id}))

    @strawberry.mutation(description="Cancel a queued or running evaluation run.")
    async def cancel_evaluation_run(self, info: Info, id: uuid.UUID) -> EvaluationRunNode:
        return mirror(EvaluationRunNode, await info.context.call("evaluation_runs.cancel", {"run_id": id}))

    @strawberry.mutation(description="Create an API key; the result carries its secret, once.")
    async def create_api_key(self, info: Info, name: str, role: str = "viewer") -> ApiKeyCreatedNode:
        created = await info.context.call("api_keys.create", {"name": name, "role": role})
        return mirror(ApiKeyCreatedNode, created)

    @strawberry.mutation
    async def revoke_api_key(self, info: Info, id: uuid.UUID) -> ApiKeyNode:
        return mirror(ApiKeyNode, await info.context.call("api_keys.revoke", {"key_id": id}))


@strawberry.type
class Subscription:
    @strawberry.subscription(description="A run's status and progress, on each change, until it ends.")
    async def run_progress(
        self, info: Info, run_id: uuid.UUID, kind: str = "optimizer"
    ) -> AsyncGenerator[RunProgressNode]:
        settings = info.context.settings
        deadline = asyncio.get_running_loop().time() + settings.max_subscription_seconds
        last: tuple[str, float, str] | None = None
        while True:
            state = await info.context.call("runs.progress", {"run_id": run_id, "kind": kind})
            if (state.status, state.progress, state.message) != last:
                last = (state.status, state.progress, state.message)
                yield mirror(RunProgressNode, state)
            if state.terminal or asyncio.get_running_loop().time() >= deadline:
                return
            await asyncio.sleep(settings.run_poll_seconds)


class Schema(strawberry.Schema):
    """Logs only what is unexpected: a refused call (401, 404, ...) is the caller's business."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if unexpected(error):
                logger.error("GraphQL resolver failed", exc_info=error.original_error)


def build_schema(settings: GraphQLSettings) -> Schema:
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[*limit_extensions(settings), ServiceErrors],  # a class: one per operation
    )
