"""GraphQL at `/graphql` over the same actions as REST (strawberry).

    app.include_router(graphql_router())

Every field that reaches the service calls an action by name through `invoke` (`FIELD_ACTIONS` lists
which); the caller is the request's bearer key, authenticated once per request (or WebSocket
connection); related rows come through DataLoaders, one batch action per relation; depth, token and
alias limits refuse a hostile document before anything runs.
"""

from dspy_ash.api._graphql._context import GraphQLContext
from dspy_ash.api._graphql._errors import CODES
from dspy_ash.api._graphql._fields import FIELD_ACTIONS
from dspy_ash.api._graphql._limits import GraphQLSettings
from dspy_ash.api._graphql._router import GRAPHQL_PATH, graphql_router
from dspy_ash.api._graphql._schema import build_schema
from dspy_ash.api._graphql._types import MIRRORS, plain_fields

__all__ = [
    "CODES",
    "FIELD_ACTIONS",
    "GRAPHQL_PATH",
    "MIRRORS",
    "GraphQLContext",
    "GraphQLSettings",
    "build_schema",
    "graphql_router",
    "plain_fields",
]
