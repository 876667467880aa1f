"""The `/graphql` endpoint: queries and mutations over HTTP, subscriptions over WebSocket
(graphql-transport-ws only; the older graphql-ws protocol is not offered)."""

from __future__ import annotations

from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from dspy_ash.api._graphql._context import GraphQLContext, context_getter
from dspy_ash.api._graphql._limits import GraphQLSettings
from dspy_ash.api._graphql._schema import build_schema

GRAPHQL_PATH = "/graphql"


def graphql_router(settings: GraphQLSettings | None = None) -> GraphQLRouter[GraphQLContext, None]:
    settings = settings or GraphQLSettings()
    return GraphQLRouter(
        build_schema(settings),
        path=GRAPHQL_PATH,
        context_getter=context_getter(settings),
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
        tags=["graphql"],
    )
