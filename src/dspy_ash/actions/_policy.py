"""Who may do what: one table from scope to the roles that hold it.

Every action names one scope. The authorization tests are generated from this table and the action
registry, so an action cannot be added without its policy being tested.
"""

from __future__ import annotations

ROLES = ("admin", "editor", "viewer")
_ALL = frozenset(ROLES)
_EDITORS = frozenset({"admin", "editor"})
_ADMINS = frozenset({"admin"})

# Resources everyone in a tenant reads and editors change.
_SHARED = (
    "signatures",
    "modules",
    "programs",
    "datasets",
    "metrics",
    "optimizer_configs",
    "runs",
    "traces",
    "lm_requests",
    "providers",
    "cache",
)

SCOPES: dict[str, frozenset[str]] = {
    **{f"{resource}:read": _ALL for resource in _SHARED},
    **{f"{resource}:write": _EDITORS for resource in _SHARED},
    # running things spends the tenant's LM budget
    "programs:execute": _EDITORS,
    "providers:generate": _EDITORS,
    # secrets, people and keys, the trail and the cache's contents are the admins'
    "providers:write": _ADMINS,
    "cache:write": _ADMINS,
    "tenant:read": _ALL,
    "tenant:write": _ADMINS,
    "members:read": _ADMINS,
    "members:write": _ADMINS,
    "api_keys:read": _ADMINS,
    "api_keys:write": _ADMINS,
    "audit:read": _ADMINS,
}


def allows(role: str, scope: str) -> bool:
    """Whether `role` holds `scope`. An unknown scope is held by nobody."""
    return role in SCOPES.get(scope, frozenset())
