"""`Embeddings`: DSPy's `dspy.retrievers.Embeddings(corpus, embedder, k)` call shape, on DenseRetriever.

search = Embeddings(corpus=passages, embedder=Embedder(...), k=5)
search("query").passages, search("query").indices
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from dspy_ash._sync import run_sync
from dspy_ash.errors import SavedStateError
from dspy_ash.primitives._prediction import Prediction
from dspy_ash.retrievers._dense import DenseRetriever
from dspy_ash.retrievers._embedder import Embedder
from dspy_ash.retrievers._vector_store import VectorStore


class Embeddings:
    """Semantic search over `corpus`: embeds it once with `embedder` and returns the `k` nearest passages
    per query (`passages`, `indices`, `scores`); exact search up to `brute_force_threshold` passages,
    a `VectorStore` (`store`) beyond. `save(dir)` / `from_saved(dir, embedder)` keep the corpus and its
    vectors (`config.json`, `corpus_embeddings.npy`, as DSPy's) so a reload embeds nothing."""

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
        self.normalize = normalize
        self.callbacks = list(callbacks or [])
        self.index = None  # DSPy's FAISS index: exact search here needs none
        self._store = store
        self._use(embedder, np.asarray(run_sync(self._embedder_of(embedder).acall(self.corpus))))

    @staticmethod
    def _embedder_of(embedder: Any) -> Embedder:
        return embedder if isinstance(embedder, Embedder) else Embedder(embedder)

    def _use(self, embedder: Any, vectors: Any) -> None:
        self.embedder = embedder
        self.corpus_embeddings = vectors
        self._retriever = DenseRetriever(self._embedder_of(embedder), k=self.k, store=self._store)
        payloads = [{"text": text} for text in self.corpus]
        if self.corpus:
            ids = [str(i) for i in range(len(self.corpus))]
            run_sync(self._retriever.store.add(ids, vectors, payloads))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the corpus and settings (`config.json`) and the corpus vectors (`corpus_embeddings.npy`)."""
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        config = {"k": self.k, "normalize": self.normalize, "corpus": self.corpus, "has_faiss_index": False}
        (directory / "config.json").write_text(json.dumps(config, indent=2))
        np.save(directory / "corpus_embeddings.npy", np.asarray(self.corpus_embeddings), allow_pickle=False)

    def load(self, path: str | os.PathLike[str], embedder: Any) -> Embeddings:
        """Replace this index with one `save` wrote; `embedder` embeds the queries from now on."""
        directory = Path(path)
        config_path, vectors_path = directory / "config.json", directory / "corpus_embeddings.npy"
        for required in (directory, config_path, vectors_path):
            if not required.exists():
                raise FileNotFoundError(f"Saved embeddings not found: {required}")
        config = json.loads(config_path.read_text())
        missing = [f for f in ("k", "normalize", "corpus") if not isinstance(config, dict) or f not in config]
        if missing:
            raise SavedStateError(f"Invalid config: missing required field '{missing[0]}'")
        self.k, self.normalize, self.corpus = config["k"], config["normalize"], list(config["corpus"])
        self.index = None
        vectors = np.load(vectors_path, allow_pickle=False)  # numbers only: never unpickles
        if len(vectors) != len(self.corpus):
            raise SavedStateError(
                f"{vectors_path} holds {len(vectors)} vectors for {len(self.corpus)} passages"
            )
        self._use(embedder, vectors)
        return self

    @classmethod
    def from_saved(cls, path: str | os.PathLike[str], embedder: Any) -> Embeddings:
        """An index loaded from `save`'s directory, without embedding the corpus again."""
        instance = cls.__new__(cls)
        instance.callbacks = []
        instance._store = None
        return instance.load(path, embedder)

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
