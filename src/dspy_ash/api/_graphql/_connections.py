"""Relay connections over the actions' pages: `first`/`after` are a list action's `limit`/`cursor`.

    programs(first: 10, after: $cursor) { edges { cursor node { id name } } pageInfo { hasNextPage endCursor } }

A list action returns one cursor per page (keyset, opaque), so `endCursor` is that cursor and it is the
last edge's `cursor`; the other edges carry none (a page is resumed from its end, never from its middle).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from dspy_ash.actions import Page

N = TypeVar("N")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None = strawberry.field(description="pass as `after` for the next page")


@strawberry.type
class Edge(Generic[N]):
    node: N
    cursor: str | None = strawberry.field(description="the page's end cursor, on its last edge")


@strawberry.type
class Connection(Generic[N]):
    edges: list[Edge[N]]
    page_info: PageInfo

    @strawberry.field(description="the edges' nodes, for clients that do not need cursors")
    def nodes(self) -> list[N]:
        return [edge.node for edge in self.edges]


def connection(nodes: Sequence[N], end_cursor: str | None, *, has_next_page: bool) -> Connection[N]:
    edges = [Edge(node=node, cursor=None) for node in nodes]
    if edges:
        edges[-1].cursor = end_cursor
    return Connection(edges=edges, page_info=PageInfo(has_next_page=has_next_page, end_cursor=end_cursor))


def connection_of(page: Page[Any], node: Callable[[Any], N]) -> Connection[N]:
    """A list action's `Page[X]` as a connection of `node(x)`."""
    return connection(
        [node(item) for item in page.items], page.next_cursor, has_next_page=page.next_cursor is not None
    )


def page_arguments(first: int, after: str | None) -> dict[str, Any]:
    """A connection's arguments as a list action's input (the action bounds `first`)."""
    return {"limit": first} if after is None else {"limit": first, "cursor": after}
