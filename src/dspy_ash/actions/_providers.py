"""LM providers: a tenant's endpoints and keys (openai, anthropic, cohere, ollama, any OpenAI-compatible
base URL), and `generate`, one completion through a provider's full stack, traced and logged.

Secrets are write-only: a response says whether a provider has a stored secret (`has_secret`) or which
environment variable it reads (`secret_env`), never the secret or its ciphertext; audit events leave the
ciphertext out too (the table excludes it).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator

from dspy_ash.actions._context import ActionContext
from dspy_ash.actions._lm_resolution import ProviderConfig, ProviderKind, provider_lm
from dspy_ash.actions._paging import page_of
from dspy_ash.actions._registry import Http, action
from dspy_ash.actions._schemas import Deleted, ListRequest, Page, Public, Request
from dspy_ash.actions._tracing import Usage, traced_call
from dspy_ash.store import repos
from dspy_ash.store.models import LMProvider
from dspy_ash.store.repos.providers import ProviderInfo

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# what a response copies from ProviderInfo (never anything about the secret but these two facts)
_INFO_FIELDS = (
    "id",
    "name",
    "kind",
    "base_url",
    "config",
    "secret_env",
    "is_default",
    "created_at",
    "updated_at",
)


class ProviderCreate(Request):
    name: str = Field(min_length=1, max_length=200, examples=["openai"])
    kind: ProviderKind
    base_url: str | None = Field(
        None, max_length=2000, description="required for openai_compatible; else the kind's own"
    )
    config: ProviderConfig = Field(default_factory=lambda: ProviderConfig.model_validate({}))
    api_key: SecretStr | None = Field(None, max_length=4000, description="stored encrypted; never returned")
    api_key_env: str | None = Field(None, max_length=200, pattern=_ENV_NAME)

    @model_validator(mode="after")
    def _compatible_has_url(self) -> ProviderCreate:
        if self.kind == "openai_compatible" and not self.base_url:
            raise ValueError("an openai_compatible provider needs base_url")
        return self


class ProviderPublic(Public):
    id: uuid.UUID
    name: str
    kind: str
    base_url: str | None
    config: dict[str, Any]
    has_secret: bool = Field(description="a secret is stored (encrypted) for it")
    secret_env: str | None = Field(description="the environment variable it reads its key from")
    is_default: bool = Field(description="executions without a provider of their own use it")
    created_at: datetime
    updated_at: datetime

    @model_validator(mode="before")
    @classmethod
    def _from_row(cls, data: Any) -> Any:
        if isinstance(data, LMProvider):
            data = ProviderInfo.of(data)
        if isinstance(data, ProviderInfo):
            public = {name: getattr(data, name) for name in _INFO_FIELDS}
            return {**public, "has_secret": data.has_stored_secret}
        return data


class ProviderList(ListRequest):
    kind: ProviderKind | None = None
    name: str | None = Field(None, max_length=200)


class ProviderRef(Request):
    provider_id: uuid.UUID


class ProviderUpdate(Request):
    provider_id: uuid.UUID
    name: str | None = Field(None, min_length=1, max_length=200)
    base_url: str | None = Field(None, max_length=2000)
    config: ProviderConfig | None = None


class SecretSet(Request):
    provider_id: uuid.UUID
    api_key: SecretStr | None = Field(None, max_length=4000)
    api_key_env: str | None = Field(None, max_length=200, pattern=_ENV_NAME)

    @model_validator(mode="after")
    def _one_source(self) -> SecretSet:
        if self.api_key is not None and self.api_key_env is not None:
            raise ValueError("give api_key or api_key_env, not both (neither clears the secret)")
        return self


class Message(Request):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=200_000)


class GenerateRequest(Request):
    provider_id: uuid.UUID
    messages: list[Message] = Field(min_length=1, max_length=200)
    model: str | None = Field(None, max_length=200, description="else the provider's config.model")
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, gt=0, le=1_000_000)


class Completion(Public):
    text: str | None = Field(description="the first choice's text")
    outputs: list[Any] = Field(description="every choice, as the LM returns them")
    model: str
    usage: Usage
    cost: float | None
    latency: float = Field(description="seconds")
    cache_hit: bool
    trace_id: uuid.UUID


@action("providers.create", resource="lm_provider", kind="create", scope="providers:write",
        http=Http("POST", "/providers", status=201))  # fmt: skip
async def create_provider(ctx: ActionContext, request: ProviderCreate) -> ProviderPublic:
    """Add an LM provider; its key is stored encrypted (`api_key`) or read from a variable (`api_key_env`)."""
    info = await repos.providers.create_provider(
        ctx.session,
        tenant_id=ctx.tenant_id,
        actor=ctx.subject,
        name=request.name,
        kind=request.kind,
        base_url=request.base_url,
        config=request.config.model_dump(exclude_defaults=True),
        api_key=request.api_key,
        api_key_env=request.api_key_env,
    )
    return ProviderPublic.model_validate(info)


@action("providers.list", resource="lm_provider", kind="list", scope="providers:read",
        http=Http("GET", "/providers"))  # fmt: skip
async def list_providers(ctx: ActionContext, request: ProviderList) -> Page[ProviderPublic]:
    """List LM providers (never their secrets)."""
    equal = {"kind": request.kind, "name": request.name}
    return await page_of(ctx, LMProvider, ProviderPublic, request, sorts=("created_at", "name"), equal=equal)


@action("providers.get", resource="lm_provider", kind="read", scope="providers:read",
        http=Http("GET", "/providers/{provider_id}"))  # fmt: skip
async def get_provider(ctx: ActionContext, request: ProviderRef) -> ProviderPublic:
    """Get an LM provider."""
    info = await repos.providers.get_provider(
        ctx.session, tenant_id=ctx.tenant_id, provider_id=request.provider_id
    )
    return ProviderPublic.model_validate(info)


@action("providers.update", resource="lm_provider", kind="update", scope="providers:write",
        http=Http("PATCH", "/providers/{provider_id}"))  # fmt: skip
async def update_provider(ctx: ActionContext, request: ProviderUpdate) -> ProviderPublic:
    """Rename a provider, or change its base URL or config (its key: `PUT .../secret`)."""
    info = await repos.providers.update_provider(
        ctx.session,
        tenant_id=ctx.tenant_id,
        actor=ctx.subject,
        provider_id=request.provider_id,
        name=request.name,
        base_url=request.base_url,
        config=None if request.config is None else request.config.model_dump(exclude_defaults=True),
    )
    return ProviderPublic.model_validate(info)


@action("providers.set_secret", resource="lm_provider", kind="update", scope="providers:write",
        http=Http("PUT", "/providers/{provider_id}/secret"))  # fmt: skip
async def set_provider_secret(ctx: ActionContext, request: SecretSet) -> ProviderPublic:
    """Replace a provider's key (write-only), or clear it when neither field is given."""
    info = await repos.providers.set_secret(
        ctx.session,
        tenant_id=ctx.tenant_id,
        actor=ctx.subject,
        provider_id=request.provider_id,
        api_key=request.api_key,
        api_key_env=request.api_key_env,
    )
    return ProviderPublic.model_validate(info)


@action("providers.delete", resource="lm_provider", kind="destroy", scope="providers:write",
        http=Http("DELETE", "/providers/{provider_id}"))  # fmt: skip
async def delete_provider(ctx: ActionContext, request: ProviderRef) -> Deleted:
    """Delete an LM provider."""
    await repos.providers.delete_provider(
        ctx.session, tenant_id=ctx.tenant_id, actor=ctx.subject, provider_id=request.provider_id
    )
    return Deleted(id=str(request.provider_id))


@action("providers.set_default", resource="lm_provider", kind="update", scope="providers:write",
        http=Http("POST", "/providers/{provider_id}/default"))  # fmt: skip
async def set_default_provider(ctx: ActionContext, request: ProviderRef) -> ProviderPublic:
    """Make this provider the tenant's default (the one before it stops being the default)."""
    info = await repos.providers.set_default_provider(
        ctx.session, tenant_id=ctx.tenant_id, actor=ctx.subject, provider_id=request.provider_id
    )
    return ProviderPublic.model_validate(info)


@action("providers.generate", resource="lm_provider", kind="action", scope="providers:generate",
        http=Http("POST", "/providers/{provider_id}/generate"), audited=False,
        transactional=False)  # fmt: skip
async def generate(ctx: ActionContext, request: GenerateRequest) -> Completion:
    """Messages in, a completion out, through the provider's stack (retries, cache, limits); traced and
    logged in the LM request log like any program's call."""
    async with ctx.transaction() as session:
        info = await repos.providers.get_provider(
            session, tenant_id=ctx.tenant_id, provider_id=request.provider_id
        )
        lm = await provider_lm(ctx.services, session, provider=info, model=request.model)
    options: dict[str, Any] = {k: v for k, v in (("temperature", request.temperature),
                                 ("max_tokens", request.max_tokens)) if v is not None}  # fmt: skip
    messages: list[dict[str, Any]] = [m.model_dump() for m in request.messages]
    async with traced_call(ctx, lm) as call:
        response = await lm.send(lm.build_request(messages=messages, **options))
    outputs = response.outputs
    first = outputs[0] if outputs else None
    text = first if isinstance(first, str) else first.get("text") if isinstance(first, dict) else None
    return Completion(
        text=text,
        outputs=outputs,
        model=lm.model,
        usage=call.usage,
        cost=call.cost,
        latency=call.latency,
        cache_hit=response.cache_hit,
        trace_id=call.trace_id,
    )
