"""`dspy.utils.dummies` path for DSPy code: the scripted LM lives in `dspy_ash.testing`; DSPy's n-gram
vectorizer is here for tests that need embeddings without a model."""

from __future__ import annotations

import random
from typing import Any

from dspy_ash.testing.dummy import DummyLM

__all__ = ["DummyLM", "DummyVectorizer"]


class DummyVectorizer:
    """DSPy's deterministic vectorizer: hashed character n-gram counts, centred and normalised (numpy)."""

    def __init__(self, max_length: int = 100, n_gram: int = 2) -> None:
        self.max_length = max_length
        self.n_gram = n_gram
        self.P = 10**9 + 7
        rng = random.Random(
            123
        )  # DSPy seeds the global generator with 123; same coefficients, no side effect
        self.coeffs = [rng.randrange(1, self.P) for _ in range(n_gram)]

    def _hash(self, gram: str) -> int:
        h = 1
        for coeff, c in zip(self.coeffs, gram, strict=False):
            h = (h * coeff + ord(c)) % self.P
        return h % self.max_length

    def __call__(self, texts: list[str]) -> Any:
        import numpy as np

        vecs = np.zeros((len(texts), self.max_length), dtype=np.float32)
        for row, text in enumerate(texts):
            for i in range(len(text) - self.n_gram + 1):
                vecs[row, self._hash(text[i : i + self.n_gram])] += 1
        vecs -= np.mean(vecs, axis=1, keepdims=True)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True) + 1e-10
        return vecs
