"""DSPy's weight-training optimizers (`BootstrapFinetune`, `BetterTogether`, `GRPO`), present by name only.

They change a model's weights, not a program's prompts: they need a training backend (a provider's
fine-tuning API, a local trainer, or the Arbor RL service for GRPO), which dspy-ash does not have.
Constructing one raises `TrainingBackendRequiredError` at once, before any LM call is spent, saying
so; the DSPy bridge (a coming feature) will run them through real DSPy in a worker process.
"""

from __future__ import annotations

from typing import Any, NoReturn

from dspy_ash.errors import UnsupportedFeatureError
from dspy_ash.optimizers._teleprompter import Teleprompter

_INSTEAD = "SIMBA, MIPROv2 or BootstrapFewShotWithRandomSearch"


class TrainingBackendRequiredError(UnsupportedFeatureError):
    """A fine-tuning optimizer was used: it needs a training backend, which dspy-ash does not have."""


def training_backend_message(name: str, needs: str) -> str:
    return (
        f"{name} fine-tunes model weights, which needs a training backend ({needs}); dspy-ash optimizes "
        f"prompts and demos only. The DSPy bridge (a coming feature) will run {name} through real DSPy; "
        f"until then, to improve a program here use {_INSTEAD}."
    )


class _NeedsTrainingBackend(Teleprompter):
    needs = "a provider's fine-tuning API or a local trainer"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._refuse()

    async def acompile(self, student: Any, **kwargs: Any) -> Any:  # reached only by skipping __init__
        self._refuse()

    def _refuse(self) -> NoReturn:
        raise TrainingBackendRequiredError(training_backend_message(type(self).__name__, self.needs))


class BootstrapFinetune(_NeedsTrainingBackend):
    """DSPy's `BootstrapFinetune` (fine-tunes each predictor's LM on its successful traces): not available."""


class BetterTogether(_NeedsTrainingBackend):
    """DSPy's `BetterTogether` (alternates prompt optimization and fine-tuning): not available."""


class GRPO(_NeedsTrainingBackend):
    """DSPy's `GRPO` (online reinforcement learning through `LM.reinforce`): not available."""

    needs = "the Arbor reinforcement-learning service behind `LM.reinforce`"
