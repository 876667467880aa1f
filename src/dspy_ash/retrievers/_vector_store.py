"""Where dense vectors live. `VectorStore` is the seam: the numpy store here is exact and in memory;
a SQLite (sqlite-vec) or PostgreSQL (pgvector) store implements the same three methods."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from dspy_ash.errors import InvalidInputError
from dspy_ash.retrievers._numpy import np, npt

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class VectorStore(Protocol):
    async def add(self, ids: Sequence[str], vectors: Vectors, payloads: Sequence[dict[str, Any]]) -> None:
        """Insert or replace vectors by id; payloads come back with search results."""
        ...

    async def search(self, queries: Vectors, k: int) -> list[list[tuple[str, float, dict[str, Any]]]]:
        """The `k` nearest (id, cosine similarity, payload) per query row, best first."""
        ...

    def __len__(self) -> int: ...


def normalize_rows(vectors: Any) -> Vectors:
    arr = np.asarray(vectors, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    return arr / np.maximum(norms, 1e-12)


class NumpyVectorStore:
    """Exact cosine search: one matrix product per batch of queries. Fine to ~1M vectors of 768 dims."""

    def __init__(self) -> None:
        self._ids: list[str] = []
        self._payloads: list[dict[str, Any]] = []
        self._position: dict[str, int] = {}
        self._matrix: Vectors = np.zeros((0, 0), dtype=np.float32)

    def __len__(self) -> int:
        return len(self._ids)

    async def add(self, ids: Sequence[str], vectors: Vectors, payloads: Sequence[dict[str, Any]]) -> None:
        rows = normalize_rows(vectors)
        if len(ids) != rows.shape[0] or len(payloads) != rows.shape[0]:
            raise InvalidInputError("ids, vectors and payloads must have the same length")
        if self._matrix.size and rows.shape[1] != self._matrix.shape[1]:
            raise InvalidInputError(
                f"vector size {rows.shape[1]} differs from the store's {self._matrix.shape[1]}"
            )
        new_rows: list[Vectors] = []
        for i, doc_id in enumerate(ids):
            at = self._position.get(doc_id)
            if at is not None:  # replace in place
                self._matrix[at] = rows[i]
                self._payloads[at] = dict(payloads[i])
                continue
            self._position[doc_id] = len(self._ids)
            self._ids.append(doc_id)
            self._payloads.append(dict(payloads[i]))
            new_rows.append(rows[i])
        if new_rows:
            stacked = np.vstack(new_rows)
            self._matrix = stacked if not self._matrix.size else np.vstack([self._matrix, stacked])

    async def search(self, queries: Vectors, k: int) -> list[list[tuple[str, float, dict[str, Any]]]]:
        if not self._ids:
            return [[] for _ in range(len(queries))]
        scores = normalize_rows(queries) @ self._matrix.T
        k = min(k, len(self._ids))
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        results: list[list[tuple[str, float, dict[str, Any]]]] = []
        for row, cand in zip(scores, top, strict=True):
            ordered = cand[np.argsort(-row[cand], kind="stable")]
            results.append([(self._ids[j], float(row[j]), self._payloads[j]) for j in ordered])
        return results
