"""Utilities DSPy code uses (asyncify, a thread-pool executor, batching, attribute paths). Names load lazily."""

# Only public names at module level, as in `dspy_ash/__init__.py`.
from typing import TYPE_CHECKING as _TYPE_CHECKING

from dspy_ash._lazy import lazy_getattr as _lazy_getattr

_EXPORTS: dict[str, str] = {
    "DummyVectorizer": "dspy_ash.utils._dummies:DummyVectorizer",
    "ParallelExecutor": "dspy_ash.utils._parallelizer:ParallelExecutor",
    "Unbatchify": "dspy_ash.utils._unbatchify:Unbatchify",
    "asyncify": "dspy_ash.utils._asyncify:asyncify",
    "syncify": "dspy_ash.utils._asyncify:syncify",
}

__all__ = sorted(_EXPORTS)  # pyright: ignore[reportUnsupportedDunderAll]

if _TYPE_CHECKING:  # what type checkers see; tests/unit/core/test_static_api.py keeps it equal to _EXPORTS
    from dspy_ash.utils._asyncify import asyncify as asyncify
    from dspy_ash.utils._asyncify import syncify as syncify
    from dspy_ash.utils._dummies import DummyVectorizer as DummyVectorizer
    from dspy_ash.utils._parallelizer import ParallelExecutor as ParallelExecutor
    from dspy_ash.utils._unbatchify import Unbatchify as Unbatchify


__getattr__ = _lazy_getattr(__name__, _EXPORTS)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
