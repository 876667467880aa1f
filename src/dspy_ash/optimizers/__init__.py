"""Optimizers (DSPy's teleprompters), natively async, with progress events and checkpoints."""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "BootstrapFewShot": "dspy_ash.optimizers.bootstrap:BootstrapFewShot",
    "BootstrapFewShotWithOptuna": "dspy_ash.optimizers.optuna_search:BootstrapFewShotWithOptuna",
    "BootstrapFewShotWithRandomSearch": "dspy_ash.optimizers.random_search:BootstrapFewShotWithRandomSearch",
    "BootstrapRS": "dspy_ash.optimizers.random_search:BootstrapFewShotWithRandomSearch",
    "COPRO": "dspy_ash.optimizers.copro:COPRO",
    "CheckpointStore": "dspy_ash.optimizers.checkpoint:CheckpointStore",
    "DirectoryCheckpointStore": "dspy_ash.optimizers.directory_store:DirectoryCheckpointStore",
    "Ensemble": "dspy_ash.optimizers.ensemble:Ensemble",
    "KNNFewShot": "dspy_ash.optimizers.knn_fewshot:KNNFewShot",
    "LabeledFewShot": "dspy_ash.optimizers.labeled_fewshot:LabeledFewShot",
    "MIPROv2": "dspy_ash.optimizers.mipro:MIPROv2",
    "MemoryCheckpointStore": "dspy_ash.optimizers.directory_store:MemoryCheckpointStore",
    "Teleprompter": "dspy_ash.optimizers.teleprompter:Teleprompter",
}

__all__ = sorted(_EXPORTS)  # pyright: ignore[reportUnsupportedDunderAll]


def __getattr__(name: str) -> Any:
    # Lazy: optimizers that need optuna or numpy import them only when used.
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module_name, _, attr = target.partition(":")
    value = getattr(importlib.import_module(module_name), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
