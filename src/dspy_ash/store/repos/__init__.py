"""Repositories: one small module per resource. Every function takes keyword-only arguments after the
session, is scoped by `tenant_id`, and writes its audit event in the caller's transaction."""

from dspy_ash.store.repos import (
    api_keys,
    audit,
    cache,
    datasets,
    evaluations,
    lm_requests,
    programs,
    providers,
    runs,
    signatures,
    tenants,
    traces,
    versions,
)

__all__ = [
    "api_keys",
    "audit",
    "cache",
    "datasets",
    "evaluations",
    "lm_requests",
    "programs",
    "providers",
    "runs",
    "signatures",
    "tenants",
    "traces",
    "versions",
]
