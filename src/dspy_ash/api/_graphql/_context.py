"""One GraphQL request's (or WebSocket connection's) context: the caller, authenticated once, the
DataLoaders, and `call`, the one way a resolver reaches the service (`invoke` of a named action)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi.security.utils import get_authorization_scheme_param
from starlette.requests import HTTPConnection
from strawberry.fastapi import BaseContext

from dspy_ash.actions import Actor, Services, authenticate_key, invoke
from dspy_ash.api._auth import services_of
from dspy_ash.api._graphql._errors import graphql_error
from dspy_ash.api._graphql._fields import CALLABLE
from dspy_ash.api._graphql._limits import GraphQLSettings
from dspy_ash.api._graphql._loaders import Loaders
from dspy_ash.errors import DspyAshError


class GraphQLContext(BaseContext):
    def __init__(self, services: Services, settings: GraphQLSettings, request_id: str) -> None:
        super().__init__()
        self.services = services
        self.settings = settings
        self.request_id = request_id
        self.loaders = Loaders(self.call)
        self._auth_lock = asyncio.Lock()
        self._auth: tuple[Actor | None, DspyAshError | None] | None = None

    def _credentials(self) -> str | None:
        """`Authorization: Bearer ...` of the request, or of a WebSocket's `connection_init` payload
        (browsers cannot set headers on a WebSocket), else of its upgrade request."""
        params: object = self.connection_params
        if isinstance(params, dict):
            for key, value in params.items():  # pyright: ignore[reportUnknownVariableType]
                if str(key).lower() == "authorization" and isinstance(value, str):  # pyright: ignore[reportUnknownArgumentType]
                    return value
        return None if self.request is None else self.request.headers.get("authorization")

    async def actor(self) -> Actor | None:
        """The caller, authenticated on first use and remembered (with a refusal, such as a spent rate
        limit), so a query of many fields spends one request of the key's limit, not one per field."""
        async with self._auth_lock:
            if self._auth is None:
                scheme, token = get_authorization_scheme_param(self._credentials())
                try:
                    actor = (
                        await authenticate_key(self.services, token) if scheme.lower() == "bearer" else None
                    )
                    self._auth = (actor, None)
                except DspyAshError as exc:
                    self._auth = (None, exc)
        actor, refused = self._auth
        if refused is not None:
            raise graphql_error(refused)
        return actor

    async def call(self, name: str, payload: dict[str, Any]) -> Any:
        """Invoke the action `name` for the caller; its errors become coded GraphQL errors."""
        if name not in CALLABLE:
            raise LookupError(f"no GraphQL field declares that it calls {name!r} (see FIELD_ACTIONS)")
        actor = await self.actor()
        try:
            return await invoke(self.services, name, actor, payload, request_id=self.request_id)
        except DspyAshError as exc:
            raise graphql_error(exc) from exc


def context_getter(settings: GraphQLSettings) -> Any:
    """The router's FastAPI dependency that makes each request's context."""

    async def get_context(connection: HTTPConnection) -> GraphQLContext:
        request_id = connection.scope.get("state", {}).get("request_id") or uuid.uuid4().hex
        return GraphQLContext(services_of(connection), settings, request_id)

    return get_context
