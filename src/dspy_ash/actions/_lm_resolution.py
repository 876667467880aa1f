"""Which LM serves a tenant's call, and building it: a stored provider row made into the engine's `LM`
(its full stack: retries, cache, limits), with the secret decrypted only here and only in memory.

Built LMs are kept per (provider, its last change, model) in `Services.extras`, so a provider's HTTP
client and its limits are shared by every call, and a changed provider gets a new one.
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.actions._context import Services
from dspy_ash.errors import ConfigurationError
from dspy_ash.lm import LM
from dspy_ash.store import NotFoundError, StoreError, repos
from dspy_ash.store.repos.providers import ProviderInfo

ProviderKind = Literal["openai", "anthropic", "cohere", "ollama", "openai_compatible"]
# The provider kinds the service offers, as the engine's LM registry (dspy_ash.lm._registry) names them.
ENGINE_PROVIDER: dict[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "cohere": "cohere",
    "ollama": "ollama_chat",
    "openai_compatible": "openai_compatible",
}
_LMS = "serving.lms"
_MAX_LMS = 1024  # built LMs kept; the least recently used one goes first


class ProviderConfig(BaseModel):
    """What a provider's `config` may hold: its default model and the LM options of its stack."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, max_length=200, description="the model used when a call names none")
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, gt=0, le=1_000_000)
    num_retries: int = Field(3, ge=0, le=10)
    timeout: float | None = Field(None, gt=0, le=3600)
    rpm: float | None = Field(None, gt=0)
    tpm: float | None = Field(None, gt=0)
    max_concurrency: int | None = Field(None, gt=0, le=10_000)


async def default_provider(session: AsyncSession, *, tenant_id: uuid.UUID) -> ProviderInfo:
    """The tenant's default provider (`POST /providers/{id}/default`), else its only one."""
    chosen = await repos.providers.get_default_provider(session, tenant_id=tenant_id)
    if chosen is not None:
        return chosen
    providers = await repos.providers.list_providers(session, tenant_id=tenant_id)
    if len(providers) == 1:
        return providers[0]
    raise ConfigurationError(
        "the tenant has no default LM provider: make one the default (POST /providers/{id}/default)"
        if providers
        else "the tenant has no LM provider: create one first (POST /providers)"
    )


async def provider_lm(
    services: Services, session: AsyncSession, *, provider: ProviderInfo, model: str | None = None
) -> LM:
    """The engine LM of `provider` for `model` (else the provider's configured model)."""
    config = ProviderConfig.model_validate(provider.config)
    chosen = model or config.model
    if not chosen:
        raise ConfigurationError(f"provider {provider.name!r} has no model: name one, or set config.model")
    lms: OrderedDict[tuple[uuid.UUID, datetime, str], LM] = services.extras.setdefault(_LMS, OrderedDict())
    key = (provider.id, provider.updated_at, chosen)
    if key in lms:
        lms.move_to_end(key)
        return lms[key]
    api_key = await _api_key(session, provider)
    lm = LM(
        chosen,
        provider=ENGINE_PROVIDER.get(provider.kind, provider.kind),
        api_base=provider.base_url,
        # "" rather than None: a provider without a secret must never fall back to the server's own
        # environment (OPENAI_API_KEY and the like)
        api_key=api_key or "",
        **_stack_options(config),
    )
    lms[key] = lm
    if len(lms) > _MAX_LMS:
        lms.popitem(last=False)
    return lm


def _stack_options(config: ProviderConfig) -> dict[str, Any]:
    options = config.model_dump(exclude={"model", "default", "timeout"}, exclude_none=True)
    if config.timeout is not None:
        options["timeout"] = config.timeout
    return options


async def _api_key(session: AsyncSession, provider: ProviderInfo) -> str | None:
    try:
        secret = await repos.providers.resolve_api_key(
            session, tenant_id=provider.tenant_id, provider_id=provider.id
        )
    except NotFoundError:
        raise
    except StoreError as exc:  # no secret key configured, an unset or disallowed variable
        raise ConfigurationError(f"provider {provider.name!r}: {exc}") from None
    return None if secret is None else secret.get_secret_value()
