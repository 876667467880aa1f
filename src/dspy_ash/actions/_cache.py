"""The LM cache (its table in the store): how big it is, how often it answers, and purges.

Reading the figures is everyone's; purging is the admins' (`cache:write`): the cache holds replies to
every caller's prompts, and emptying it makes the next calls spend the tenant's LM budget again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from dspy_ash.actions._context import ActionContext
from dspy_ash.actions._registry import Http, action
from dspy_ash.actions._schemas import Public, Request
from dspy_ash.store import repos


class CacheStatsRequest(Request):
    since: AwareDatetime | None = Field(None, description="count requests and hits from this time")


class CacheStatsPublic(Public):
    entries: int
    bytes: int = Field(description="of the stored replies, as JSON text")
    expired: int = Field(description="entries past their expiry, not yet purged")
    oldest: datetime | None
    newest: datetime | None
    requests: int = Field(description="LM calls logged (since `since`)")
    hits: int = Field(description="of those, answered by the cache")
    hit_ratio: float | None


class CachePurge(Request):
    scope: Literal["all", "expired", "model"] = Field(
        "expired", description="every entry, the expired ones, or one model's replies"
    )
    model: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="with scope `model`: as the provider names it, with or without `provider/`",
    )

    @model_validator(mode="after")
    def _model_with_its_scope(self) -> CachePurge:
        if (self.scope == "model") != (self.model is not None):
            raise ValueError("`model` goes with scope `model`, and only with it")
        return self


class CachePurged(Public):
    scope: str
    model: str | None
    removed: int


@action("cache.stats", resource="lm_cache_entry", kind="read", scope="cache:read", http=Http("GET", "/cache"))
async def cache_stats(ctx: ActionContext, request: CacheStatsRequest) -> CacheStatsPublic:
    """The cache's entries, size and expired entries, and its hits as the LM request log records them."""
    stats = await repos.cache.get_cache_stats(ctx.session, tenant_id=ctx.tenant_id, since=request.since)
    ratio = stats.hits / stats.requests if stats.requests else None
    return CacheStatsPublic(
        entries=stats.entries,
        bytes=stats.bytes,
        expired=stats.expired,
        oldest=stats.oldest,
        newest=stats.newest,
        requests=stats.requests,
        hits=stats.hits,
        hit_ratio=ratio,
    )


@action("cache.purge", resource="lm_cache_entry", kind="action", scope="cache:write",
        http=Http("POST", "/cache/purge"))  # fmt: skip
async def purge_cache(ctx: ActionContext, request: CachePurge) -> CachePurged:
    """Delete cache entries: all, the expired ones (the default), or one model's. Audited."""
    removed = await repos.cache.purge_cache(
        ctx.session,
        tenant_id=ctx.tenant_id,
        actor=ctx.subject,
        expired_only=request.scope == "expired",
        model=request.model,
    )
    return CachePurged(scope=request.scope, model=request.model, removed=removed)
