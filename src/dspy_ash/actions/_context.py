"""Who calls an action (`Actor`), what it runs with (`Services`), and the call's own context."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dspy_ash.actions._config import ServiceSettings
from dspy_ash.actions._limits import KeyRateLimiter
from dspy_ash.store import Database


@dataclass(frozen=True, slots=True)
class Actor:
    """The caller: the tenant it acts in, its role there, and who it is for the audit trail
    (`api_key:<id>`, `user:<id>`, `cli`)."""

    tenant_id: uuid.UUID
    role: str
    subject: str
    rate_limit_per_minute: int | None = None


@dataclass(eq=False)
class Services:
    """What actions share in one process: the database, the settings, and the limits kept in memory.

    Serving and jobs hang their own parts here (`extras`), created once at start-up.
    """

    db: Database
    settings: ServiceSettings = field(default_factory=lambda: ServiceSettings())
    rate_limiter: KeyRateLimiter = field(default_factory=KeyRateLimiter)
    # valid API keys seen lately: sha256 of the key -> (its principal, until when to trust it; monotonic)
    key_cache: dict[str, tuple[Any, float]] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False, slots=True)
class ActionContext:
    """One call: its services, actor and request id, and (for transactional actions) its session."""

    services: Services
    actor: Actor
    request_id: str
    _session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        """The call's transaction; only transactional actions have one (the others open their own)."""
        if self._session is None:
            raise RuntimeError("this action is not transactional: use `async with ctx.transaction()`")
        return self._session

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.actor.tenant_id

    @property
    def subject(self) -> str:
        return self.actor.subject

    @asynccontextmanager
    async def transaction(self) -> AsyncGenerator[AsyncSession]:
        """A transaction scoped to the caller's tenant, for actions that must not hold one throughout
        (an execution waits on LMs for seconds)."""
        async with self.services.db.transaction(tenant_id=self.actor.tenant_id) as session:
            yield session
