"""BM25 over an in-memory corpus or a file, on `bm25s` (sparse matrices, fast), with save and load."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dspy_ash.retrievers._base import Document, Passage, Retriever, as_documents
from dspy_ash.retrievers._numpy import np

_DOCS_FILE = "documents.jsonl"


def _bm25s() -> Any:
    try:
        import bm25s
    except ImportError as exc:  # an optional extra
        raise ImportError("BM25Retriever needs bm25s: pip install 'dspy-ash[retrieval]'") from exc
    return bm25s


class BM25Retriever(Retriever):
    """`BM25Retriever(corpus, k=3)`; `corpus` holds strings, dicts with `text` (and `id`, metadata) or Documents."""

    def __init__(
        self,
        corpus: Sequence[str | dict[str, Any] | Document] = (),
        k: int = 3,
        *,
        ids: Sequence[str] | None = None,
        stopwords: str | None = "en",
        k1: float = 1.5,
        b: float = 0.75,
        method: str = "lucene",
    ) -> None:
        super().__init__(k)
        self.stopwords = stopwords
        self.documents: list[Document] = []
        self._index: Any = _bm25s().BM25(k1=k1, b=b, method=method)
        if corpus:
            self.index(corpus, ids=ids)

    def index(
        self, corpus: Sequence[str | dict[str, Any] | Document], ids: Sequence[str] | None = None
    ) -> None:
        """(Re)build the index over `corpus`."""
        bm25s = _bm25s()
        self.documents = as_documents(corpus, ids)
        tokens = bm25s.tokenize(
            [d.text for d in self.documents], stopwords=self.stopwords, show_progress=False
        )
        self._index.index(tokens, show_progress=False)

    @classmethod
    def from_file(cls, path: str | Path, k: int = 3, **kwargs: Any) -> BM25Retriever:
        """A `.jsonl` file of objects (`text`, optional `id`, metadata) or a text file of one passage per line."""
        path = Path(path)
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        corpus: list[Any] = [json.loads(ln) for ln in lines] if path.suffix == ".jsonl" else lines
        return cls(corpus, k=k, **kwargs)

    async def asearch(self, queries: Sequence[str], k: int) -> list[list[Passage]]:
        if not self.documents or not queries:
            return [[] for _ in queries]
        bm25s = _bm25s()
        k = min(k, len(self.documents))
        tokens = bm25s.tokenize(
            list(queries), stopwords=self.stopwords, return_ids=False, show_progress=False
        )
        return [self._top_k(query_tokens, k) for query_tokens in tokens]

    def _top_k(self, query_tokens: list[str], k: int) -> list[Passage]:
        """Score with bm25s's precomputed sparse index, summed by `np.bincount`.

        bm25s's own `retrieve` needs numba to be fast (without it, pure-Python loops on a thread
        pool: about 30 ms a query over 100,000 passages); this path is numpy only.
        """
        vocab: dict[str, int] = self._index.vocab_dict
        ids = np.fromiter((vocab[t] for t in query_tokens if t in vocab), dtype=np.int64)
        if ids.size == 0:
            return []
        index = self._index.scores
        indptr, indices, data = index["indptr"], index["indices"], index["data"]
        starts, ends = indptr[ids], indptr[ids + 1]
        docs = np.concatenate([indices[s:e] for s, e in zip(starts, ends, strict=True)])
        weights = np.concatenate([data[s:e] for s, e in zip(starts, ends, strict=True)])
        scores = np.bincount(docs, weights=weights, minlength=int(index["num_docs"]))
        nonoccurrence = getattr(self._index, "nonoccurrence_array", None)
        if nonoccurrence is not None:  # BM25L / BM25+ give absent terms a score too
            scores += float(nonoccurrence[ids].sum())
        top = np.argpartition(-scores, k - 1)[:k] if k < scores.size else np.arange(scores.size)
        top = top[np.argsort(-scores[top], kind="stable")]
        return [self._passage(int(i), float(scores[i])) for i in top if scores[i] > 0]

    def _passage(self, i: int, score: float) -> Passage:
        doc = self.documents[i]
        return Passage(doc.id, doc.text, score, doc.metadata)

    # -- persistence --------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the index (bm25s's own files) and the documents into directory `path`."""
        path = Path(path)
        self._index.save(str(path))
        with (path / _DOCS_FILE).open("w", encoding="utf-8") as f:
            for d in self.documents:
                f.write(json.dumps({"id": d.id, "text": d.text, **d.metadata}, ensure_ascii=False) + "\n")
        (path / "retriever.json").write_text(json.dumps({"k": self.k, "stopwords": self.stopwords}))

    @classmethod
    def load(cls, path: str | Path, k: int | None = None) -> BM25Retriever:
        path = Path(path)
        config = json.loads((path / "retriever.json").read_text())
        self = cls.__new__(cls)
        Retriever.__init__(self, config["k"] if k is None else k)
        self.stopwords = config["stopwords"]
        self._index = _bm25s().BM25.load(str(path))
        lines = (path / _DOCS_FILE).read_text(encoding="utf-8").splitlines()
        self.documents = as_documents([json.loads(ln) for ln in lines if ln])
        return self
