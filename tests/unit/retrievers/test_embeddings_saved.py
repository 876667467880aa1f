"""`Embeddings.save` / `from_saved` write DSPy's directory format: each side loads what the other saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from dspy.retrievers.embeddings import Embeddings as DSPyEmbeddings  # the oracle

from dspy_ash.errors import SavedStateError
from dspy_ash.retrievers._embeddings import Embeddings

CORPUS = ["The cat sat on the mat.", "The dog barked at the mailman.", "Birds fly in the sky."]


def embed(texts: list[str]) -> Any:
    rows = [[1.0 if word in text else 0.0 for word in ("cat", "dog", "sky")] for text in texts]
    return np.asarray(rows, dtype=np.float32) + 0.01


def test_dspy_loads_what_we_save_and_we_load_what_dspy_saves(tmp_path: Path) -> None:
    ours = Embeddings(CORPUS, embed, k=2, normalize=False)
    ours.save(tmp_path / "ours")
    theirs = DSPyEmbeddings.from_saved(str(tmp_path / "ours"), embed)
    assert (theirs.k, theirs.normalize, theirs.corpus) == (2, False, CORPUS)
    assert theirs("a cat").passages == ours("a cat").passages

    DSPyEmbeddings(corpus=CORPUS, embedder=embed, k=1).save(str(tmp_path / "theirs"))
    loaded = Embeddings.from_saved(tmp_path / "theirs", embed)
    assert (loaded.k, loaded.corpus, loaded.index) == (1, CORPUS, None)
    assert loaded("the dog").passages == [CORPUS[1]]


def test_load_refuses_a_broken_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Embeddings.from_saved(tmp_path / "absent", embed)
    Embeddings(CORPUS, embed).save(tmp_path / "x")
    np.save(tmp_path / "x" / "corpus_embeddings.npy", np.zeros((1, 3), dtype=np.float32))
    with pytest.raises(SavedStateError, match="1 vectors for 3 passages"):
        Embeddings.from_saved(tmp_path / "x", embed)
    np.save(tmp_path / "x" / "corpus_embeddings.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="allow_pickle"):  # an object array is never unpickled
        Embeddings.from_saved(tmp_path / "x", embed)
