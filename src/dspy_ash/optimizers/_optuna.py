"""optuna, imported on first use (the `optimizers` extra), quiet and without experimental warnings."""

from __future__ import annotations

import importlib.util
import warnings
from typing import Any


def require_optuna(optimizer: str) -> None:
    """Fail before any LM call is paid for when optuna is missing (the import itself may come later)."""
    if importlib.util.find_spec("optuna") is None:
        raise ImportError(
            f"{optimizer} requires optuna. Install it with `pip install 'dspy-ash[optimizers]'`."
        )


def import_optuna(optimizer: str) -> Any:
    try:
        import optuna
    except ModuleNotFoundError as exc:
        if exc.name == "optuna":
            raise ImportError(
                f"{optimizer} requires optuna. Install it with `pip install 'dspy-ash[optimizers]'`."
            ) from exc
        raise
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def tpe_sampler(optuna: Any, seed: int | None, multivariate: bool = True) -> Any:
    with warnings.catch_warnings():
        # multivariate TPE is flagged experimental by optuna; DSPy uses it all the same
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, multivariate=multivariate)
