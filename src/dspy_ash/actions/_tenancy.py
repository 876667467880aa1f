"""The caller's tenant, its API keys, and its audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from dspy_ash.actions._context import ActionContext
from dspy_ash.actions._paging import page_of
from dspy_ash.actions._registry import Http, action
from dspy_ash.actions._schemas import ListRequest, Page, Public, Request
from dspy_ash.store import repos
from dspy_ash.store.models import ApiKey, AuditEvent

Role = Literal["admin", "editor", "viewer"]


class Nothing(Request):
    """No input."""


class TenantPublic(Public):
    id: uuid.UUID
    name: str
    created_at: datetime


class ApiKeyCreate(Request):
    name: str = Field(min_length=1, max_length=200, examples=["ci"])
    role: Role = "viewer"
    expires_at: datetime | None = Field(default=None, description="when the key stops working (aware time)")
    rate_limit_per_minute: int | None = Field(
        default=None, ge=1, le=1_000_000, description="requests per minute; null takes the service default"
    )


class ApiKeyPublic(Public):
    id: uuid.UUID
    name: str
    display: str = Field(description="the key's first characters and an ellipsis, to tell keys apart")
    role: Role
    expires_at: datetime | None
    rate_limit_per_minute: int | None
    created_by: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="the secret, shown this once; only its hash is kept")


class ApiKeyRef(Request):
    key_id: uuid.UUID


class AuditList(ListRequest):
    resource_type: str | None = Field(None, max_length=64)
    resource_id: uuid.UUID | None = None
    actor: str | None = Field(None, max_length=200)
    sort: str = Field("-created_at", max_length=64, description="`created_at` or `-created_at`")


class AuditEventPublic(Public):
    id: uuid.UUID
    actor: str
    action: str
    resource_type: str
    resource_id: uuid.UUID
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    created_at: datetime


@action("tenant.get", resource="tenant", kind="read", scope="tenant:read", http=Http("GET", "/tenant"))
async def get_tenant(ctx: ActionContext, request: Nothing) -> TenantPublic:
    """The caller's tenant."""
    return TenantPublic.model_validate(await repos.tenants.get_tenant(ctx.session, tenant_id=ctx.tenant_id))


@action("api_keys.create", resource="api_key", kind="create", scope="api_keys:write",
        http=Http("POST", "/api-keys", status=201))  # fmt: skip
async def create_api_key(ctx: ActionContext, request: ApiKeyCreate) -> ApiKeyCreated:
    """Create an API key; the response carries the secret, once (so no Idempotency-Key: a replay would
    have to keep the secret)."""
    row, token = await repos.api_keys.create_api_key(
        ctx.session,
        tenant_id=ctx.tenant_id,
        actor=ctx.subject,
        name=request.name,
        role=request.role,
        expires_at=request.expires_at,
        rate_limit_per_minute=request.rate_limit_per_minute,
    )
    return ApiKeyCreated.model_validate({**ApiKeyPublic.model_validate(row).model_dump(), "key": token})


@action(
    "api_keys.list", resource="api_key", kind="list", scope="api_keys:read", http=Http("GET", "/api-keys")
)
async def list_api_keys(ctx: ActionContext, request: ListRequest) -> Page[ApiKeyPublic]:
    """List API keys (never their secrets)."""
    return await page_of(ctx, ApiKey, ApiKeyPublic, request, sorts=("created_at", "name"))


@action("api_keys.revoke", resource="api_key", kind="update", scope="api_keys:write",
        http=Http("POST", "/api-keys/{key_id}/revoke"))  # fmt: skip
async def revoke_api_key(ctx: ActionContext, request: ApiKeyRef) -> ApiKeyPublic:
    """Revoke an API key: it stops working at once."""
    row = await repos.api_keys.revoke_api_key(
        ctx.session, tenant_id=ctx.tenant_id, actor=ctx.subject, key_id=request.key_id
    )
    cache = ctx.services.key_cache  # this process stops trusting it at once (others: KEY_CACHE_SECONDS)
    for digest in [d for d, (principal, _) in cache.items() if principal.api_key_id == request.key_id]:
        cache.pop(digest, None)
    return ApiKeyPublic.model_validate(row)


@action(
    "audit.list", resource="audit_event", kind="list", scope="audit:read", http=Http("GET", "/audit-events")
)
async def list_audit_events(ctx: ActionContext, request: AuditList) -> Page[AuditEventPublic]:
    """The audit trail, newest first by default; filter by resource or actor."""
    equal = {
        "resource_type": request.resource_type,
        "resource_id": request.resource_id,
        "actor": request.actor,
    }
    return await page_of(ctx, AuditEvent, AuditEventPublic, request, sorts=("created_at",), equal=equal)
