"""`Embeddings`: DSPy's `dspy.retrievers.Embeddings(corpus, embedder, k)` call shape, on DenseRetriever.

search = Embeddings(corpus=passages, embedder=Embedder(...), k=5)
search("query").passages, search("query").indices
"""

from __future__ import annotations

from typing import Any

from dspy_ash._sync import run_sync
from dspy_ash.primitives.prediction import Prediction
from dspy_ash.retrievers.dense import DenseRetriever
from dspy_ash.retrievers.embedder import Embedder
from dspy_ash.retrievers.vector_store import VectorStore


class Embeddings:
    """Semantic search over `corpus`: embeds it once with `embedder` and returns the `k` nearest passages
    per query (`passages`, `indices`, `scores`); exact search up to `brute_force_threshold` passages,
    a `VectorStore` (`store`) beyond."""

    def __init__(
        self,
        corpus: list[str],
        embedder: Embedder | Any,
        k: int = 5,
        callbacks: list[Any] | None = None,
        cache: bool = False,
        brute_force_threshold: int = 20_000,
        normalize: bool = True,
        store: VectorStore | None = None,
    ) -> None:
        # Exact search at any size (DSPy switches to FAISS above brute_force_threshold); cosine similarity
        # is used whether or not `normalize` is set. Pass `store=` for another vector store.
        self.corpus = list(corpus)
        self.k = k
        self.callbacks = list(callbacks or [])
        embedder = embedder if isinstance(embedder, Embedder) else Embedder(embedder)
        self._retriever = DenseRetriever(embedder, k=k, store=store)
        self._retriever.add(self.corpus, ids=[str(i) for i in range(len(self.corpus))])

    def __call__(self, query: str) -> Prediction:
        return self.forward(query)

    def forward(self, query: str) -> Prediction:
        return run_sync(self.aforward(query))

    async def aforward(self, query: str) -> Prediction:
        hits = await self._retriever.aretrieve(query, k=self.k)
        return Prediction(
            passages=[h.text for h in hits], indices=[int(h.id) for h in hits], scores=[h.score for h in hits]
        )

    async def acall(self, query: str) -> Prediction:
        return await self.aforward(query)


class EmbeddingsWithScores(Embeddings):
    """DSPy's variant that adds `scores`; `Embeddings` here always returns them, so this is the same."""
