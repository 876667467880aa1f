"""DSPy's `dspy.predict` path: the modules live in `dspy_ash.modules`."""

from __future__ import annotations

import importlib
from typing import Any

_NAMES = ("Predict", "ChainOfThought", "ReAct", "ProgramOfThought", "MultiChainComparison", "BestOfN", "Refine",
          "Parallel", "Retrieve", "majority")


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module("dspy_ash"), name)
    raise AttributeError(f"module 'dspy_ash.predict' has no attribute {name!r}")


__all__ = list(_NAMES)
