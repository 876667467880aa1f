"""Who a credential speaks for: an API key (`Authorization: Bearer dak_...`) made into an `Actor`."""

from __future__ import annotations

from dspy_ash.actions._context import Actor, Services
from dspy_ash.store import repos

_MAX_TOKEN = 200  # real keys are 47 characters; a longer string is not worth hashing


async def authenticate_key(services: Services, token: str) -> Actor | None:
    """The actor of a valid, unrevoked key, after spending one request of its rate limit
    (RateLimitedError when it has none left); None for anything else."""
    if not token.startswith(repos.api_keys.KEY_PREFIX) or len(token) > _MAX_TOKEN:
        return None
    async with services.db.transaction() as session:
        principal = await repos.api_keys.authenticate(session, token=token)
    if principal is None:
        return None
    per_minute = services.settings.rate_limit_per_minute
    services.rate_limiter.check(str(principal.api_key_id), per_minute)
    return Actor(tenant_id=principal.tenant_id, role=principal.role, subject=principal.actor)
