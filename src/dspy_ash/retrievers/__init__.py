"""Retrieval: the retriever interface, BM25, dense retrieval with pluggable embedders and vector stores,
the ColBERTv2 server client, and the shipped HotPotQA corpus. numpy and bm25s load only when their classes are used."""

# Only public names at module level (no `from __future__ import annotations`, imports under private
# names), as in `dspy_ash/__init__.py`: the public names in `dir()` are exactly the exports.
from typing import TYPE_CHECKING as _TYPE_CHECKING

from dspy_ash._lazy import lazy_getattr as _lazy_getattr

_EXPORTS: dict[str, str] = {
    "BM25Retriever": "dspy_ash.retrievers._bm25:BM25Retriever",
    "ColBERTv2": "dspy_ash.retrievers._colbertv2:ColBERTv2",
    "DenseRetriever": "dspy_ash.retrievers._dense:DenseRetriever",
    "Document": "dspy_ash.retrievers._base:Document",
    "Embedder": "dspy_ash.retrievers._embedder:Embedder",
    "Embeddings": "dspy_ash.retrievers._embeddings:Embeddings",
    "EmbeddingsWithScores": "dspy_ash.retrievers._embeddings:EmbeddingsWithScores",
    "NumpyVectorStore": "dspy_ash.retrievers._vector_store:NumpyVectorStore",
    "Passage": "dspy_ash.retrievers._base:Passage",
    "Retriever": "dspy_ash.retrievers._base:Retriever",
    "VectorStore": "dspy_ash.retrievers._vector_store:VectorStore",
    "hotpotqa_corpus": "dspy_ash.retrievers._hotpotqa:hotpotqa_corpus",
    "hotpotqa_questions": "dspy_ash.retrievers._hotpotqa:hotpotqa_questions",
}

__all__ = sorted(_EXPORTS)  # pyright: ignore[reportUnsupportedDunderAll]

if _TYPE_CHECKING:  # what type checkers see; tests/unit/core/test_static_api.py keeps it equal to _EXPORTS
    from dspy_ash.retrievers._base import Document as Document
    from dspy_ash.retrievers._base import Passage as Passage
    from dspy_ash.retrievers._base import Retriever as Retriever
    from dspy_ash.retrievers._bm25 import BM25Retriever as BM25Retriever
    from dspy_ash.retrievers._colbertv2 import ColBERTv2 as ColBERTv2
    from dspy_ash.retrievers._dense import DenseRetriever as DenseRetriever
    from dspy_ash.retrievers._embedder import Embedder as Embedder
    from dspy_ash.retrievers._embeddings import Embeddings as Embeddings
    from dspy_ash.retrievers._embeddings import EmbeddingsWithScores as EmbeddingsWithScores
    from dspy_ash.retrievers._hotpotqa import hotpotqa_corpus as hotpotqa_corpus
    from dspy_ash.retrievers._hotpotqa import hotpotqa_questions as hotpotqa_questions
    from dspy_ash.retrievers._vector_store import NumpyVectorStore as NumpyVectorStore
    from dspy_ash.retrievers._vector_store import VectorStore as VectorStore


__getattr__ = _lazy_getattr(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
