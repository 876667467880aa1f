"""What a GraphQL document may ask for: depth, tokens and aliases, checked before anything runs.

The token bound stops the parser itself, and depth and aliases are validation rules, so a refused document
executes nothing: no resolver runs, no action is invoked, nothing changes. The body as a whole is bounded
by the app's body limit (413) before any of this; introspection stays allowed (tools need it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter, SchemaExtension


@dataclass(frozen=True, slots=True)
class GraphQLSettings:
    """The GraphQL endpoint's bounds and pace."""

    max_depth: int = 10  # programs -> edges -> node -> versions -> edges -> node -> program is 7
    max_tokens: int = 2_000
    max_aliases: int = 30  # counted through fragment spreads (strawberry >= 0.315.7)
    max_subscriptions_per_connection: int = 10
    run_poll_seconds: float = 0.5  # how often a run-progress subscription looks at its run
    max_subscription_seconds: float = 3600.0  # then it completes (a client resubscribes), so none is endless


def limit_extensions(settings: GraphQLSettings) -> list[Callable[[], SchemaExtension]]:
    """Factories (strawberry makes each operation its own extensions from them)."""
    return [
        functools.partial(MaxTokensLimiter, max_token_count=settings.max_tokens),
        functools.partial(MaxAliasesLimiter, max_alias_count=settings.max_aliases),
        functools.partial(QueryDepthLimiter, max_depth=settings.max_depth),
    ]
