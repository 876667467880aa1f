"""Repositories: one small module per resource. Every function takes keyword-only arguments after the
session, is scoped by `tenant_id`, and writes its audit event in the caller's transaction. User accounts
are the exception to the scoping (one account, several tenants): see `users`."""

from dspy_ash.store.repos import (
    api_keys,
    audit,
    cache,
    datasets,
    evaluations,
    idempotency,
    lm_requests,
    memberships,
    metrics,
    modules,
    optimizer_configs,
    programs,
    providers,
    runs,
    signatures,
    tenants,
    traces,
    user_sessions,
    users,
    versions,
)

__all__ = [
    "api_keys",
    "audit",
    "cache",
    "datasets",
    "evaluations",
    "idempotency",
    "lm_requests",
    "memberships",
    "metrics",
    "modules",
    "optimizer_configs",
    "programs",
    "providers",
    "runs",
    "signatures",
    "tenants",
    "traces",
    "user_sessions",
    "users",
    "versions",
]
