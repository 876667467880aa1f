"""Who a credential speaks for: an API key (`Authorization: Bearer dak_...`) or a dashboard session
(cookie, with a CSRF token on every unsafe request), made into an `Actor`."""

from __future__ import annotations

import time

from dspy_ash.actions._context import Actor, Services
from dspy_ash.actions._errors import CsrfError
from dspy_ash.store import repos

KEY_CACHE_SECONDS = 5.0
_MAX_CACHED_KEYS = 10_000
_MAX_TOKEN = 200  # real tokens are under 50 characters; a longer string is not worth hashing
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def authenticate_key(services: Services, token: str) -> Actor | None:
    """The actor of a valid, unexpired, unrevoked key, after spending one request of its rate limit
    (RateLimitedError when it has none left); None for anything else.

    A valid key is trusted for KEY_CACHE_SECONDS without asking the database again (a transaction per
    request costs more than the rest of a read): a key revoked through this process stops at once, one
    revoked through another process, or reaching its expiry, stops within that time."""
    if not token.startswith(repos.api_keys.KEY_PREFIX) or len(token) > _MAX_TOKEN:
        return None
    digest = repos.api_keys.hash_key(token)
    now = time.monotonic()
    cached = services.key_cache.get(digest)
    if cached is not None and cached[1] > now:
        principal: repos.api_keys.Principal = cached[0]
    else:
        async with services.db.transaction() as session:
            found = await repos.api_keys.authenticate(session, token=token)
            if found is not None:
                await repos.api_keys.touch_last_used(session, key_id=found.api_key_id)  # once a minute
        if found is None:
            services.key_cache.pop(digest, None)
            return None
        if len(services.key_cache) >= _MAX_CACHED_KEYS:  # a flood of distinct keys cannot grow memory
            services.key_cache.clear()
        services.key_cache[digest] = (found, now + KEY_CACHE_SECONDS)
        principal = found
    per_minute = principal.rate_limit_per_minute or services.settings.rate_limit_per_minute
    services.rate_limiter.check(str(principal.api_key_id), per_minute)
    return Actor(
        tenant_id=principal.tenant_id,
        role=principal.role,
        subject=principal.actor,
        rate_limit_per_minute=per_minute,
    )


async def authenticate_session(
    services: Services, token: str, *, method: str, csrf_token: str | None
) -> Actor | None:
    """The actor of a live session cookie; None for anything else. An unsafe method (POST, PATCH, ...)
    must also bring the session's CSRF token, else CsrfError: a cookie alone never changes anything."""
    if not token.startswith(repos.user_sessions.TOKEN_PREFIX) or len(token) > _MAX_TOKEN:
        return None
    async with services.db.transaction() as session:
        principal = await repos.user_sessions.authenticate_session(session, token=token)
    if principal is None:
        return None
    if method.upper() not in SAFE_METHODS and not (
        csrf_token and repos.user_sessions.check_csrf(principal, token=csrf_token)
    ):
        raise CsrfError()
    services.rate_limiter.check(f"session:{principal.session_id}", services.settings.rate_limit_per_minute)
    return Actor(tenant_id=principal.tenant_id, role=principal.role, subject=principal.actor)
