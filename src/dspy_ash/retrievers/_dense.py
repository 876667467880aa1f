"""Dense retrieval: an `Embedder` turns texts into vectors, a `VectorStore` finds the nearest."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dspy_ash._sync import run_sync
from dspy_ash.retrievers._base import Document, Passage, Retriever, as_documents
from dspy_ash.retrievers._embedder import Embedder
from dspy_ash.retrievers._vector_store import NumpyVectorStore, VectorStore


class DenseRetriever(Retriever):
    """`DenseRetriever(embedder, corpus=..., k=3, store=None)`; the store defaults to exact numpy search."""

    def __init__(
        self,
        embedder: Embedder,
        corpus: Sequence[str | dict[str, Any] | Document] = (),
        k: int = 3,
        *,
        store: VectorStore | None = None,
        ids: Sequence[str] | None = None,
    ) -> None:
        super().__init__(k)
        self.embedder = embedder
        self.store: VectorStore = store if store is not None else NumpyVectorStore()
        if corpus:
            self.add(corpus, ids=ids)

    def add(
        self, corpus: Sequence[str | dict[str, Any] | Document], ids: Sequence[str] | None = None
    ) -> None:
        run_sync(self.aadd(corpus, ids))

    async def aadd(
        self, corpus: Sequence[str | dict[str, Any] | Document], ids: Sequence[str] | None = None
    ) -> None:
        docs = as_documents(corpus, ids)
        vectors = await self.embedder.acall([d.text for d in docs])
        await self.store.add([d.id for d in docs], vectors, [{"text": d.text, **d.metadata} for d in docs])

    async def asearch(self, queries: Sequence[str], k: int) -> list[list[Passage]]:
        if not queries:
            return []
        vectors = await self.embedder.acall(list(queries))
        hits = await self.store.search(vectors, k)
        return [
            [
                Passage(
                    doc_id,
                    str(payload.get("text", "")),
                    score,
                    {key: v for key, v in payload.items() if key != "text"},
                )
                for doc_id, score, payload in row
            ]
            for row in hits
        ]
