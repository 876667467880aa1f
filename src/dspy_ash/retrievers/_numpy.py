"""numpy for the retrievers, with an error that names the extra to install when it is missing."""

from __future__ import annotations

try:
    import numpy as np
    import numpy.typing as npt
except ModuleNotFoundError as exc:  # pragma: no cover - exercised in an environment without the extra
    if exc.name != "numpy":
        raise
    raise ImportError(
        "dspy-ash's retrievers need numpy (and bm25s for BM25): pip install 'dspy-ash[retrieval]'"
    ) from exc

__all__ = ["np", "npt"]
