"""What every action's input and output models share: strictness, paging, and reading from rows."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")

MAX_PAGE = 200  # the schema's bound; the service may set a lower one (ServiceSettings.max_page_size)


class Request(BaseModel):
    """An action's input: unknown fields are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class Public(BaseModel):
    """An action's output: built from a store row or a dict."""

    model_config = ConfigDict(from_attributes=True)


class ListRequest(Request):
    limit: int = Field(50, ge=1, le=MAX_PAGE, description="page size")
    cursor: str | None = Field(None, max_length=1000, description="`next_cursor` of the previous page")
    sort: str = Field("created_at", max_length=64, description="a column, `-column` for descending")


class Page(BaseModel, Generic[T]):
    """A page of results, and the cursor of the next one (null on the last page)."""

    items: list[T]
    next_cursor: str | None = None


class ById(Request):
    id: str = Field(max_length=64)


class Deleted(Public):
    id: str
    deleted: bool = True
