"""Lazy public names: a package maps each name to "module:attribute" and loads it on first access, so
importing the package stays cheap and optional extras load only when their names are used."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module-level `__getattr__` resolving `exports` (name -> "module:attribute", or "module" for `name`)."""
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name: str) -> Any:
        target = exports.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module_name, _, attr = target.partition(":")
        value = getattr(importlib.import_module(module_name), attr or name)
        namespace[name] = value  # later lookups skip __getattr__
        return value

    return __getattr__
