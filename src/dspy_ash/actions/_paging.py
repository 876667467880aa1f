"""One page of a list action: the request's sort, cursor and size, within the service's page bound."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement

from dspy_ash.actions._context import ActionContext
from dspy_ash.actions._errors import FieldProblem, InvalidRequestError
from dspy_ash.actions._schemas import ListRequest, Page
from dspy_ash.store.models import Base
from dspy_ash.store.repos._paging import page_rows

P = TypeVar("P", bound=BaseModel)


async def page_of(
    ctx: ActionContext,
    model: type[Base],
    public: type[P],
    request: ListRequest,
    *where: ColumnElement[bool],
    sorts: Collection[str],
    equal: Mapping[str, Any] | None = None,
) -> Page[P]:
    """The page of `model` rows that `request` asks for, each made into `public`."""
    try:
        rows, cursor = await page_rows(
            ctx.session,
            model,
            *where,
            tenant_id=ctx.tenant_id,
            sort=request.sort,
            allowed_sorts=sorts,
            cursor=request.cursor,
            limit=min(request.limit, ctx.services.settings.max_page_size),
            equal=equal,
        )
    except ValueError as exc:
        if type(exc) is not ValueError:  # InvalidCursorError and the like keep their own class
            raise
        raise InvalidRequestError(str(exc), [FieldProblem("query.sort", str(exc))]) from None
    return Page[public](items=[public.model_validate(row) for row in rows], next_cursor=cursor)
