"""Which actions each GraphQL field calls, kept next to the schema.

A test holds this table to the schema (every root field is here) and to the registry (every name is an
action), and `GraphQLContext.call` refuses an action that no field names: a field cannot bypass it.
"""

from __future__ import annotations

# "Type.field" -> the actions it calls. Root fields and relations alike; nothing else is called.
FIELD_ACTIONS: dict[str, tuple[str, ...]] = {
    "Query.programs": ("programs.list",),
    "Query.program": ("programs.get",),
    "Query.version": ("versions.get",),
    "Query.apiKeys": ("api_keys.list",),
    "Query.auditEvents": ("audit.list",),
    "Query.tenant": ("tenant.get",),
    "Query.optimizerRuns": ("optimizer_runs.list",),
    "Query.optimizerRun": ("optimizer_runs.get",),
    "Query.evaluationRuns": ("evaluation_runs.list",),
    "Query.evaluationRun": ("evaluation_runs.get",),
    "Query.datasets": ("datasets.list",),
    "Query.metrics": ("metrics.list",),
    "Query.optimizerConfigs": ("optimizer_configs.list",),
    "Mutation.createOptimizerRun": ("optimizer_runs.create",),
    "Mutation.createEvaluationRun": ("evaluation_runs.create",),
    "Mutation.cancelOptimizerRun": ("optimizer_runs.cancel",),
    "Mutation.cancelEvaluationRun": ("evaluation_runs.cancel",),
    "Mutation.createProgram": ("programs.create",),
    "Mutation.updateProgram": ("programs.update",),
    "Mutation.deleteProgram": ("programs.delete",),
    "Mutation.importVersion": ("versions.import",),
    "Mutation.createApiKey": ("api_keys.create",),
    "Mutation.revokeApiKey": ("api_keys.revoke",),
    "Subscription.runProgress": ("runs.progress",),
    "Program.versions": ("versions.by_programs",),
    "ProgramVersion.program": ("programs.by_ids",),
}
CALLABLE = frozenset(name for names in FIELD_ACTIONS.values() for name in names)
