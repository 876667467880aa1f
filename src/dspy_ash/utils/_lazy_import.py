"""DSPy's `dspy.utils.lazy_import`: optional dependencies bound at module level, imported on first use.

`np = require("numpy")` costs nothing; the first attribute access imports numpy (under a per-module lock,
so concurrent first use never sees a half-initialized module). A package that is not installed gives a
stand-in whose first attribute access raises ImportError naming the extra to install and the line that
asked for it.
"""

from __future__ import annotations

import functools
import importlib
import importlib.machinery
import importlib.util
import inspect
import sys
import threading
import types
from typing import Any

# module -> the dspy-ash extra that installs it (pyproject.toml's optional-dependencies)
_INSTALL_HINTS: dict[str, str] = {
    "bm25s": "retrieval",
    "numpy": "retrieval",
    "optuna": "optimizers",
    "sqlalchemy": "store",
    "alembic": "store",
    "psycopg": "postgres",
    "typer": "cli",
    "rich": "cli",
}

_locks: dict[str, threading.RLock] = {}
_locks_lock = threading.Lock()


def _detect_dspy_dist() -> str:
    """The distribution to name in install hints."""
    return "dspy-ash"


def _lock_for(module: str) -> threading.RLock:
    with _locks_lock:
        return _locks.setdefault(module, threading.RLock())


class _MissingModule(types.ModuleType):
    """What `require()` returns for a package that is not installed: any attribute raises ImportError."""

    def __init__(self, module: str, message: str, caller: inspect.FrameInfo) -> None:
        super().__init__(module)
        context = "".join(caller.code_context or "").strip()
        self._message = (
            f"{message}\n\nThis error is lazily reported, having originally occurred in\n"
            f"  File {caller.filename}, line {caller.lineno}, in {caller.function}\n\n----> {context}"
        )

    def __getattr__(self, attr: str) -> Any:
        raise ImportError(self._message)


class _LazyModule(types.ModuleType):
    """A proxy that imports the real module on first attribute access (or assignment, so that configuring
    the dependency reaches the real module). It stays out of sys.modules: Python owns the real import."""

    def __init__(self, module: str, spec: importlib.machinery.ModuleSpec, lock: threading.RLock) -> None:
        super().__init__(module)
        self.__dict__["_lazy_lock"] = lock
        self.__spec__ = spec

    def _load(self) -> types.ModuleType:
        with self.__dict__["_lazy_lock"]:
            return importlib.import_module(self.__name__)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._load(), attr)

    def __setattr__(self, attr: str, value: Any) -> None:
        if attr == "__spec__":
            super().__setattr__(attr, value)
        else:
            setattr(self._load(), attr, value)

    def __dir__(self) -> list[str]:
        return dir(self._load())


@functools.cache
def is_available(module: str) -> bool:
    """Whether `module` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def require(module: str, *, extra: str | None = None, feature: str | None = None) -> Any:
    """`module` (already imported), a lazy proxy of it, or a stand-in that raises with an install hint."""
    lock = _lock_for(module)
    with lock:
        if module in sys.modules:
            return sys.modules[module]
        spec = importlib.util.find_spec(module)
    if spec is None or spec.loader is None:
        top = module.split(".", 1)[0]
        hint = extra or _INSTALL_HINTS.get(top, top)
        message = (
            f"{top} is required to use {feature or 'this feature'}. "
            f"Install with `pip install {_detect_dspy_dist()}[{hint}]` or `pip install {top}`."
        )
        return _MissingModule(module, message, inspect.stack()[1])
    with lock:
        return sys.modules[module] if module in sys.modules else _LazyModule(module, spec, lock)
