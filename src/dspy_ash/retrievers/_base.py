"""The retriever interface: `k`, one query or many, passages with ids and scores.

A retriever is also what DSPy calls an `rm`: `configure(rm=retriever)` and `Retrieve(k=3)` calls
`rm(query, k=k)`, which returns the passages of one query (objects with `long_text`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from dspy_ash._sync import run_sync


@dataclass(frozen=True, slots=True)
class Passage:
    id: str
    text: str
    score: float
    metadata: dict[str, Any] = field(default_factory=dict[str, Any])

    @property
    def long_text(self) -> str:  # the attribute DSPy's Retrieve reads
        return self.text

    def __getitem__(self, key: str) -> Any:  # dict-style access, as DSPy's dotdict passages allow
        if key == "long_text":
            return self.text
        return getattr(self, key) if key in ("id", "text", "score") else self.metadata[key]


@dataclass(frozen=True, slots=True)
class Document:
    """A corpus entry: an id, the text to index, and metadata carried into results (e.g. a title)."""

    id: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict[str, Any])


def as_documents(
    corpus: Sequence[str | dict[str, Any] | Document], ids: Sequence[str] | None = None
) -> list[Document]:
    """Strings, dicts (`text` or `long_text`, optional `id` and anything else as metadata) or Documents."""
    docs: list[Document] = []
    for i, item in enumerate(corpus):
        if isinstance(item, Document):
            docs.append(item)
            continue
        if isinstance(item, str):
            text, meta, own_id = item, {}, None
        else:
            meta = dict(item)
            text = str(meta.pop("text", None) or meta.pop("long_text", ""))
            own_id = meta.pop("id", None)
        doc_id = ids[i] if ids is not None else (str(own_id) if own_id is not None else str(i))
        docs.append(Document(doc_id, text, meta))
    return docs


class Retriever(ABC):
    """Subclasses implement `asearch` for a batch of queries; everything else is derived."""

    def __init__(self, k: int = 3) -> None:
        self.k = k

    @abstractmethod
    async def asearch(self, queries: Sequence[str], k: int) -> list[list[Passage]]:
        """The top `k` passages of each query, best first."""

    @overload
    async def aretrieve(self, query: str, k: int | None = None) -> list[Passage]: ...
    @overload
    async def aretrieve(self, query: Sequence[str], k: int | None = None) -> list[list[Passage]]: ...

    async def aretrieve(self, query: str | Sequence[str], k: int | None = None) -> Any:
        k = self.k if k is None else k
        if isinstance(query, str):
            return (await self.asearch([query], k))[0]
        return await self.asearch(list(query), k)

    def retrieve(self, query: str | Sequence[str], k: int | None = None) -> Any:
        return run_sync(self.aretrieve(query, k))

    def __call__(self, query: str | Sequence[str], k: int | None = None, **_: Any) -> Any:
        return self.retrieve(query, k)

    async def acall(self, query: str | Sequence[str], k: int | None = None, **_: Any) -> Any:
        return await self.aretrieve(query, k)
