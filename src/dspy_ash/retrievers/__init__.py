"""Retrieval: the retriever interface, BM25, dense retrieval with pluggable embedders and vector stores,
and the shipped HotPotQA corpus. numpy and bm25s load only when their classes are used."""

from __future__ import annotations

from dspy_ash._lazy import lazy_getattr

_EXPORTS = {
    "BM25Retriever": "dspy_ash.retrievers.bm25",
    "DenseRetriever": "dspy_ash.retrievers.dense",
    "Document": "dspy_ash.retrievers.base",
    "Embedder": "dspy_ash.retrievers.embedder",
    "Embeddings": "dspy_ash.retrievers.embeddings",
    "EmbeddingsWithScores": "dspy_ash.retrievers.embeddings",
    "NumpyVectorStore": "dspy_ash.retrievers.vector_store",
    "Passage": "dspy_ash.retrievers.base",
    "Retriever": "dspy_ash.retrievers.base",
    "VectorStore": "dspy_ash.retrievers.vector_store",
    "hotpotqa_corpus": "dspy_ash.retrievers.hotpotqa",
    "hotpotqa_questions": "dspy_ash.retrievers.hotpotqa",
}

__all__ = sorted(_EXPORTS)  # pyright: ignore[reportUnsupportedDunderAll]


__getattr__ = lazy_getattr(__name__, _EXPORTS)
