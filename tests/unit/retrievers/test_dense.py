from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

from dspy_ash.retrievers import DenseRetriever, Embedder, NumpyVectorStore, VectorStore

WORDS = ["cat", "dog", "python", "river", "mountain", "music"]


def bag_of_words(texts: list[str]) -> np.ndarray:
    """A deterministic toy embedding: counts of a few words (so nearest neighbours are predictable)."""
    return np.array([[t.lower().count(w) + 0.01 for w in WORDS] for t in texts], dtype=np.float32)


def test_embedder_with_local_callables() -> None:
    embedder = Embedder(bag_of_words, batch_size=1)
    assert embedder(["cat", "dog"]).shape == (2, len(WORDS))

    async def async_fn(texts: list[str]) -> list[list[float]]:
        return bag_of_words(texts).tolist()

    np.testing.assert_allclose(Embedder(async_fn)(["music"]), bag_of_words(["music"]))
    with pytest.raises(ValueError, match="string or a callable"):
        Embedder(42)  # type: ignore[arg-type]


async def test_numpy_store_exact_cosine_and_upsert() -> None:
    store = NumpyVectorStore()
    assert isinstance(store, VectorStore)
    await store.add(["a", "b"], np.array([[1, 0], [0, 1]], dtype=np.float32), [{"t": "a"}, {"t": "b"}])
    hits = await store.search(np.array([[0.9, 0.1]], dtype=np.float32), k=2)
    assert [h[0] for h in hits[0]] == ["a", "b"] and hits[0][0][1] == pytest.approx(0.9939, abs=1e-3)
    await store.add(["a"], np.array([[0, 1]], dtype=np.float32), [{"t": "a2"}])
    assert len(store) == 2
    both = {
        doc_id: (score, payload)
        for doc_id, score, payload in (await store.search(np.array([[0, 1]], dtype=np.float32), k=2))[0]
    }
    assert both["a"] == (pytest.approx(1.0), {"t": "a2"}) and both["b"][0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="vector size"):
        await store.add(["c"], np.ones((1, 3), dtype=np.float32), [{}])


def test_dense_retriever_with_custom_store() -> None:
    class CountingStore(NumpyVectorStore):
        searches = 0

        async def search(self, queries: Any, k: int) -> Any:
            CountingStore.searches += 1
            return await super().search(queries, k)

    retriever = DenseRetriever(Embedder(bag_of_words), ["cat", "dog", "python"], store=CountingStore())
    assert retriever("python", k=1)[0].text == "python"
    assert CountingStore.searches == 1


def test_embeddings_has_dspy_call_shape() -> None:
    from dspy_ash.retrievers import Embeddings

    search = Embeddings(corpus=["a cat", "a dog", "python code"], embedder=bag_of_words, k=2)
    out = search("dog")
    assert out.passages[0] == "a dog" and out.indices[0] == 1 and len(out.indices) == 2
    assert out.scores[0] > out.scores[1]


def test_sentence_transformers_missing_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # absent, whatever is installed here
    with pytest.raises(ImportError, match="needs sentence-transformers"):
        Embedder("sentence-transformers/all-MiniLM-L6-v2")
